using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    internal const int X_OK = 1;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Access(string path, int mode);
}
