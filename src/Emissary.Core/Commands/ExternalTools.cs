using System.Runtime.InteropServices;
using System.Text;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Commands;

/// <summary>
/// `emissary rewrite` and `emissary local` exec the emissary-tools binary next to emissary
/// (git-style), so the binary that runs in every container carries no YAML parser.
/// </summary>
internal static unsafe class ExternalTools
{
    public const string BinaryName = "emissary-tools";

    /// <summary>The admission webhook server: Kestrel and TLS are megabytes that emissary-tools need not carry either.</summary>
    public const string WebhookBinaryName = "emissary-webhook";

    /// <summary>Execs emissary-tools with the same arguments; returns only by throwing, when that fails.</summary>
    public static int Exec(string verb, string[] args) => Exec(BinaryName, verb, args);

    /// <summary>Execs emissary-webhook with the same arguments.</summary>
    public static int ExecWebhook(string verb, string[] args) => Exec(WebhookBinaryName, verb, args);

    private static int Exec(string binaryName, string verb, string[] args)
    {
        string self = Environment.ProcessPath ?? Supervision.SelfExecutable.Path();
        string tools = Path.Combine(Path.GetDirectoryName(self) ?? ".", binaryName);
        if (!File.Exists(tools))
        {
            throw new UsageException($"'{verb}' is provided by {binaryName}, which is not installed next to {self} (scripts/build.sh builds it into artifacts/)");
        }
        var native = new List<IntPtr>();
        try
        {
            string[] argv = [tools, .. args];
            var array = (byte**)NativeMemory.Alloc((nuint)(argv.Length + 1), (nuint)sizeof(byte*));
            native.Add((IntPtr)array);
            for (int i = 0; i < argv.Length; i++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(argv[i] + "\0");
                var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
                native.Add((IntPtr)p);
                bytes.CopyTo(new Span<byte>(p, bytes.Length));
                array[i] = p;
            }
            array[argv.Length] = null;
            // exec keeps the signal mask and ignored signals: hand emissary-tools the caller's, not
            // the shim's mask nor the runtime's ignored SIGPIPE.
            Shim.ReleaseSignals();
            Shim.RestoreDispositions();
            Libc.Execv(array[0], array);
            throw new UsageException($"cannot run {tools}: {Libc.Describe(Libc.LastErrno)}");
        }
        finally
        {
            foreach (IntPtr p in native)
            {
                NativeMemory.Free((void*)p);
            }
        }
    }
}
