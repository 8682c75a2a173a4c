using Emissary.Commands;

namespace Emissary.Cli;

internal static class InitCli
{
    public static CliCommand Build() => new("init", "Copy this binary to DEST (mode 0555), atomically: for the pod's init container.", "init DEST")
    {
        Arguments = { new CliArgument("DEST", "Directory (gets DEST/emissary) or file path to install the binary to") },
        Action = parsed =>
        {
            InitCommand.Execute(parsed.Arguments[0]);
            return 0;
        },
    };
}
