using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>struct sockaddr_in6 (28 bytes); IPv4 uses the first 16 as sockaddr_in.</summary>
[StructLayout(LayoutKind.Sequential, Size = 28)]
internal unsafe struct SockAddr
{
    public ushort Family;
    public ushort PortNetworkOrder;
    public fixed byte Rest[24];
}

internal static partial class Libc
{
    internal const int AF_INET = 2;
    internal const int AF_INET6 = 10;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SO_ERROR = 4;
    internal const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    internal static unsafe partial int Connect(int fd, SockAddr* address, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    internal static unsafe partial nint Send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(int fd, void* buffer, nuint length, int flags);
}
