using System.CommandLine;
using Emissary.Commands;

namespace Emissary.Cli;

internal static class InitCli
{
    public static Command Build()
    {
        var destination = new Argument<string>("DEST")
        {
            Description = "Directory (gets DEST/emissary) or file path to install the binary to",
        };
        var command = new Command("init", "Copy this binary to DEST (mode 0555), atomically; for the pod's init container") { destination };
        command.SetAction(result =>
        {
            InitCommand.Execute(result.GetValue(destination)!);
            return 0;
        });
        return command;
    }
}
