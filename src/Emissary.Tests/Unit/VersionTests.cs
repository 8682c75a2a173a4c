using System.Xml.Linq;
using Emissary.Cli;

namespace Emissary.Tests.Unit;

public sealed class VersionTests
{
    [Fact]
    public void The_version_emissary_prints_is_the_version_the_build_stamps()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Directory.Build.props")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        dir.Should().NotBeNull("the tests run inside the repository");

        string? version = XDocument.Load(Path.Combine(dir!, "Directory.Build.props")).Descendants("Version").Single().Value;

        CommandLine.Version.Should().Be(version);
    }
}
