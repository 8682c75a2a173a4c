using System.Runtime.InteropServices;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Floor;

internal static unsafe partial class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0)
            return 0;
        // argv for the child: the arguments as NUL-terminated UTF-8 strings, then NULL.
        var argv = stackalloc nint[args.Length + 1];
        for (var i = 0; i < args.Length; i++)
            argv[i] = Marshal.StringToCoTaskMemUTF8(args[i]);
        argv[args.Length] = 0;
        // An empty environment: /bin/true needs none, and libc's environ is data, not a function.
        nint envp = 0;
        int pid;
        var rc = posix_spawn(&pid, argv[0], 0, 0, argv, &envp);
        if (rc != 0)
            return 127;
        int status;
        while (waitpid(pid, &status, 0) < 0) { }
        return (status >> 8) & 0xff;
    }

    [LibraryImport("libc")]
    private static partial int posix_spawn(int* pid, nint path, nint fileActions, nint attr, nint* argv, nint* envp);

    [LibraryImport("libc")]
    private static partial int waitpid(int pid, int* status, int options);
}
