using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>Opaque storage for posix_spawnattr_t (336 bytes in glibc) with room to spare.</summary>
[StructLayout(LayoutKind.Sequential, Size = 512)]
internal struct PosixSpawnAttr;

/// <summary>Opaque storage for posix_spawn_file_actions_t (80 bytes in glibc) with room to spare.</summary>
[StructLayout(LayoutKind.Sequential, Size = 256)]
internal struct PosixSpawnFileActions;

internal static partial class Libc
{
    internal const short POSIX_SPAWN_SETPGROUP = 0x02;
    internal const short POSIX_SPAWN_SETSIGDEF = 0x04;
    internal const short POSIX_SPAWN_SETSIGMASK = 0x08;

    // posix_spawn returns the error number instead of setting errno.
    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    internal static unsafe partial int PosixSpawn(int* pid, byte* path, PosixSpawnFileActions* fileActions, PosixSpawnAttr* attr, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    internal static unsafe partial int PosixSpawnAttrInit(PosixSpawnAttr* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    internal static unsafe partial int PosixSpawnAttrDestroy(PosixSpawnAttr* attr);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    internal static unsafe partial int PosixSpawnAttrSetFlags(PosixSpawnAttr* attr, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setpgroup")]
    internal static unsafe partial int PosixSpawnAttrSetPgroup(PosixSpawnAttr* attr, int pgroup);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    internal static unsafe partial int PosixSpawnAttrSetSigMask(PosixSpawnAttr* attr, SigSet* mask);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    internal static unsafe partial int PosixSpawnAttrSetSigDefault(PosixSpawnAttr* attr, SigSet* set);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    internal static unsafe partial int PosixSpawnFileActionsInit(PosixSpawnFileActions* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    internal static unsafe partial int PosixSpawnFileActionsDestroy(PosixSpawnFileActions* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    internal static unsafe partial int PosixSpawnFileActionsAddDup2(PosixSpawnFileActions* actions, int fd, int newFd);

    /// <summary>glibc 2.29+: chdir in the child before exec.</summary>
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    internal static unsafe partial int PosixSpawnFileActionsAddChdir(PosixSpawnFileActions* actions, byte* path);

    /// <summary>glibc 2.35+: make the child's group the terminal's foreground group before exec.</summary>
    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addtcsetpgrp_np")]
    internal static unsafe partial int PosixSpawnFileActionsAddTcSetPgrp(PosixSpawnFileActions* actions, int fd);
}
