using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    internal const int IN_NONBLOCK = 0x800;
    internal const int IN_CLOEXEC = 0x80000;

    internal const uint IN_MODIFY = 0x002;
    internal const uint IN_ATTRIB = 0x004;
    internal const uint IN_CLOSE_WRITE = 0x008;
    internal const uint IN_MOVED_TO = 0x080;
    internal const uint IN_CREATE = 0x100;
    internal const uint IN_DELETE_SELF = 0x400;
    internal const uint IN_MOVE_SELF = 0x800;
    internal const uint IN_ONLYDIR = 0x01000000;

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    internal static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int InotifyAddWatch(int fd, string path, uint mask);
}
