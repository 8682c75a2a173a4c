using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>mkdir(2), mkdirat(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Mkdir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkdirAt(int dirFd, string path, uint mode);
}
