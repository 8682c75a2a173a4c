using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>mkfifo(3), mkfifoat(3).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkFifo(string path, int mode);

    [LibraryImport("libc", EntryPoint = "mkfifoat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkFifoAt(int dirFd, string path, uint mode);
}
