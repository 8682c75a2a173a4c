using System.Runtime.InteropServices;
using System.Text;

namespace Emissary.Interop;

/// <summary>struct sockaddr_un: the family and a path of at most 107 bytes plus its NUL.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrUnix
{
    public const int PathCapacity = 108;

    public ushort Family;
    public fixed byte Path[PathCapacity];
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary>struct msghdr (LP64: the padding after the name length comes from sequential layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public int NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>
/// Unix domain sockets, for a stream's rendezvous: a listening socket, and one byte sent with a
/// descriptor attached (SCM_RIGHTS). The address is always a short path through
/// <c>/proc/self/fd</c>, so a long control directory never meets sockaddr_un's 108 bytes.
/// </summary>
internal static partial class Libc
{
    internal const int AF_UNIX = 1;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;
    internal const int SCM_RIGHTS = 1;


    // struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data (8-aligned).
    private const int CmsgHeader = 16;

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static unsafe partial int ConnectUnix(int fd, SockAddrUnix* address, int length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static unsafe partial int BindUnix(int fd, SockAddrUnix* address, int length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    internal static unsafe partial int Accept4(int fd, void* address, int* length, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static unsafe partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    /// <summary>bind(2) to <paramref name="path"/>; -1 with errno ENAMETOOLONG when it does not fit.</summary>
    internal static unsafe int BindUnix(int fd, string path)
    {
        SockAddrUnix address;
        int length = UnixAddress(path, &address);
        return length < 0 ? -1 : BindUnix(fd, &address, length);
    }

    /// <summary>connect(2) to <paramref name="path"/>; -1 with errno ENAMETOOLONG when it does not fit.</summary>
    internal static unsafe int ConnectUnix(int fd, string path)
    {
        SockAddrUnix address;
        int length = UnixAddress(path, &address);
        return length < 0 ? -1 : ConnectUnix(fd, &address, length);
    }

    private static unsafe int UnixAddress(string path, SockAddrUnix* address)
    {
        *address = default;
        address->Family = AF_UNIX;
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes >= SockAddrUnix.PathCapacity)
        {
            Marshal.SetLastPInvokeError((int)Errno.ENAMETOOLONG);
            return -1;
        }
        Encoding.UTF8.GetBytes(path, new Span<byte>(address->Path, SockAddrUnix.PathCapacity));
        return sizeof(ushort) + bytes + 1;
    }

    /// <summary>
    /// Sends the one byte <paramref name="tag"/> with descriptor <paramref name="fd"/> attached,
    /// without blocking and without SIGPIPE. Returns 1, or -1 with errno set.
    /// </summary>
    internal static unsafe nint SendDescriptor(int socket, byte tag, int fd)
    {
        ulong* control = stackalloc ulong[3]; // CMSG_SPACE(sizeof(int)) = 24
        *control = CmsgHeader + sizeof(int);
        ((int*)control)[2] = SOL_SOCKET;
        ((int*)control)[3] = SCM_RIGHTS;
        ((int*)control)[4] = fd;
        var iov = new IoVec { Base = &tag, Length = 1 };
        var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 24 };
        return SendMsg(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    }

    /// <summary>
    /// Receives one byte and at most one descriptor with it (close-on-exec), without blocking.
    /// Returns recvmsg's result (1, 0 at EOF, -1 with errno set); <paramref name="fd"/> is the
    /// descriptor or -1. Any further descriptor a peer squeezed in is closed, never kept.
    /// </summary>
    internal static unsafe nint ReceiveDescriptor(int socket, out byte tag, out int fd)
    {
        fd = -1;
        byte data = 0;
        const int Room = 4; // descriptors: more than expected, so that extras are seen and closed
        ulong* control = stackalloc ulong[(CmsgHeader + Room * sizeof(int) + 7) / 8];
        var iov = new IoVec { Base = &data, Length = 1 };
        var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)(CmsgHeader + Room * sizeof(int)) };
        nint n = RecvMsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        tag = data;
        if (n < 0 || message.ControlLength < CmsgHeader)
        {
            return n;
        }
        // One control message at most fits (SCM_RIGHTS is the only kind a unix stream carries
        // without SO_PASSCRED); its descriptors follow the header.
        nuint length = (nuint)(*control);
        int level = ((int*)control)[2];
        int type = ((int*)control)[3];
        if (level == SOL_SOCKET && type == SCM_RIGHTS && length >= CmsgHeader && length <= message.ControlLength)
        {
            int count = (int)(length - CmsgHeader) / sizeof(int);
            int* fds = (int*)((byte*)control + CmsgHeader);
            for (int i = 0; i < count; i++)
            {
                if (i == 0)
                {
                    fd = fds[i];
                }
                else
                {
                    Close(fds[i]);
                }
            }
        }
        return n;
    }
}
