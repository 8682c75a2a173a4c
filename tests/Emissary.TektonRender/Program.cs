using Emissary.TektonRender;
using YamlDotNet.RepresentationModel;

// tekton-render pod EXAMPLE.yaml NAME [--entrypoint-image I] [--shell-image I] [--step-image I]
//                   [--platform OS/ARCH] [--feature-flag enable-termination-message-compression=true] [--podman-volumes]
//   writes the pod of the example's TaskRun (named NAME when it has only generateName) to stdout.
// tekton-render message FILE
//   prints a termination message's entries, one a line: KEY TAB TYPE TAB VALUE.
// Exit 0, or 2 with one line on stderr for bad input.
try
{
    switch (args)
    {
        case ["pod", string file, string name, .. var options]:
            var config = new ControllerConfig("localhost/emissary-entrypoint:e2e", "localhost/tekton-busybox:e2e", "localhost/tekton-busybox:e2e",
                "linux/" + System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant().Replace("x64", "amd64"), false, false);
            for (int i = 0; i < options.Length; i++)
            {
                string Next() => ++i < options.Length ? options[i] : throw new RenderError($"{options[i - 1]} needs a value");
                config = options[i] switch
                {
                    "--entrypoint-image" => config with { EntrypointImage = Next() },
                    "--shell-image" => config with { ShellImage = Next() },
                    "--step-image" => config with { StepImage = Next() },
                    "--platform" => config with { Platform = Next() },
                    "--podman-volumes" => config with { PodmanVolumes = true },
                    "--feature-flag" => Next() switch
                    {
                        "enable-termination-message-compression=true" => config with { CompressTerminationMessage = true },
                        var flag => throw new RenderError($"feature flag {flag}: not rendered"),
                    },
                    var other => throw new RenderError($"unknown option {other}"),
                };
            }
            TaskRun run;
            using (var reader = File.OpenText(file)) run = TaskRunReader.Read(reader, name);
            var stream = new YamlStream(new YamlDocument(PodBuilder.Build(run, config)));
            stream.Save(Console.Out, assignAnchors: false);
            return 0;
        case ["message", string file]:
            foreach (string line in TerminationMessages.Lines(File.ReadAllText(file))) Console.WriteLine(line);
            return 0;
        default:
            Console.Error.WriteLine("usage: tekton-render pod EXAMPLE.yaml NAME [options] | tekton-render message FILE");
            return 2;
    }
}
catch (Exception e) when (e is RenderError or IOException or YamlDotNet.Core.YamlException or System.Text.Json.JsonException or FormatException or InvalidDataException)
{
    Console.Error.WriteLine("tekton-render: " + e.Message);
    return 2;
}
