using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// The kernel's struct statx (256 bytes). Unlike struct stat its layout is the same on every
/// architecture, which is why Emissary uses statx(2) (glibc 2.28+, Linux 4.11+) and not fstat.
/// Only the fields Emissary reads are named.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatX
{
    [FieldOffset(0)]
    public uint Mask;

    [FieldOffset(20)]
    public uint Uid;

    [FieldOffset(28)]
    public ushort Mode;

    [FieldOffset(32)]
    public ulong Inode;

    [FieldOffset(40)]
    public ulong Size;

    [FieldOffset(136)]
    public uint DevMajor;

    [FieldOffset(140)]
    public uint DevMinor;

    /// <summary>The permission bits (with set-id and sticky), without the type.</summary>
    public readonly uint Permissions => (uint)Mode & 0xFFF;

    public readonly FileType Kind => (Mode & 0xF000) switch
    {
        0x8000 => FileType.Regular,
        0x4000 => FileType.Directory,
        0xA000 => FileType.SymbolicLink,
        0x1000 => FileType.Fifo,
        0xC000 => FileType.Socket,
        0x2000 => FileType.CharacterDevice,
        0x6000 => FileType.BlockDevice,
        _ => FileType.Unknown,
    };
}

/// <summary>The S_IFMT part of a mode, by name (what statx says a file is).</summary>
internal enum FileType
{
    Unknown,
    Regular,
    Directory,
    SymbolicLink,
    Fifo,
    Socket,
    CharacterDevice,
    BlockDevice,
}

internal static partial class Libc
{
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const uint STATX_TYPE = 0x1;
    internal const uint STATX_MODE = 0x2;
    internal const uint STATX_UID = 0x8;
    internal const uint STATX_INO = 0x100;
    internal const uint STATX_SIZE = 0x200;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static unsafe partial int StatX(int dirFd, string path, int flags, uint mask, StatX* buffer);

    /// <summary>What statx says about <paramref name="name"/> in <paramref name="dirFd"/> itself (a symlink is not followed), or null with errno set.</summary>
    internal static unsafe StatX? StatAt(int dirFd, string name)
    {
        StatX st;
        return StatX(dirFd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE, &st) == 0 ? st : null;
    }

    /// <summary>What statx says about the file open as <paramref name="fd"/>, or null with errno set.</summary>
    internal static unsafe StatX? StatOf(int fd)
    {
        StatX st;
        return StatX(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE, &st) == 0 ? st : null;
    }

    /// <summary>The type of <paramref name="path"/>, following symlinks (a path the user named), or null with errno set.</summary>
    internal static unsafe FileType? KindFollowing(string path)
    {
        StatX st;
        return StatX(AT_FDCWD, path, 0, STATX_TYPE, &st) == 0 ? st.Kind : null;
    }

    /// <summary>The type of the file open as <paramref name="fd"/>, or null with errno set.</summary>
    internal static unsafe FileType? KindOf(int fd)
    {
        StatX st;
        return StatX(fd, "", AT_EMPTY_PATH, STATX_TYPE, &st) == 0 ? st.Kind : null;
    }

    /// <summary>Device and inode of the file open as <paramref name="fd"/>, or null: whether two descriptors are the same file.</summary>
    internal static unsafe (uint Major, uint Minor, ulong Inode)? IdentityOf(int fd)
    {
        StatX st;
        return StatX(fd, "", AT_EMPTY_PATH, STATX_INO, &st) == 0 ? (st.DevMajor, st.DevMinor, st.Inode) : null;
    }

    /// <summary>The type of <paramref name="path"/> itself (a symlink is not followed), or null with errno set.</summary>
    internal static unsafe FileType? KindOf(string path)
    {
        StatX st;
        return StatX(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) == 0 ? st.Kind : null;
    }

    internal static string Describe(FileType kind) => kind switch
    {
        FileType.Directory => "a directory",
        FileType.SymbolicLink => "a symbolic link",
        FileType.Fifo => "a FIFO",
        FileType.Socket => "a socket",
        FileType.CharacterDevice => "a character device",
        FileType.BlockDevice => "a block device",
        FileType.Regular => "a regular file",
        _ => "a file of unknown type",
    };
}
