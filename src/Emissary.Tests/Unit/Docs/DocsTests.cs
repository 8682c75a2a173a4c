using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Docs;

/// <summary>
/// The documentation stays true to the code and to itself: docs/commands.md lists every option
/// of every command as the option tables in code define them, and no relative link or #anchor of
/// README.md or docs/ points nowhere.
/// </summary>
public class DocsTests
{
    private static string Root => Artifacts.RepoRoot;

    private static IEnumerable<string> Pages() =>
        new[] { "README.md" }.Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Select(p => Path.GetRelativePath(Root, p)).Order(StringComparer.Ordinal));

    [Fact]
    public void The_committed_command_reference_is_generated_from_the_current_option_tables()
    {
        string path = Path.Combine(Root, CommandReference.PagePath);
        string page = File.ReadAllText(path);
        string fresh = CommandReference.Regenerate(page);
        if (Environment.GetEnvironmentVariable("EMISSARY_WRITE_DOCS") == "1" && fresh != page)
        {
            File.WriteAllText(path, fresh); // scripts/gen-docs.sh
            page = fresh;
        }

        CommandReference.KeysIn(page).Should().Equal(CommandReference.Blocks.Select(b => b.Key),
            "{0} must hold one generated block per command, in this order (add the missing marker pair: {1} ... <!-- END GENERATED: KEY -->)",
            CommandReference.PagePath, CommandReference.BeginMarker("KEY"));
        fresh.Should().Be(page, "{0} is stale: an option table in code changed; {1}", CommandReference.PagePath, CommandReference.RegenerateHint);
    }

    [Fact]
    public void A_stale_block_is_rewritten_and_the_prose_around_it_kept()
    {
        string page = "# Commands\n\nprose before\n\n" + CommandReference.BeginMarker("run") + "\n| `--gone` | old row |\n<!-- END GENERATED: run -->\n\nprose after\n";

        string fresh = CommandReference.Regenerate(page);

        fresh.Should().NotBe(page).And.NotContain("--gone").And.Contain("`--after NAME` | `EMISSARY_AFTER`")
            .And.StartWith("# Commands\n\nprose before\n\n").And.EndWith("<!-- END GENERATED: run -->\n\nprose after\n");
        CommandReference.Regenerate(fresh).Should().Be(fresh, "regenerating a current page changes nothing");
    }

    [Fact]
    public void Every_option_in_code_is_in_the_generated_reference()
    {
        string page = File.ReadAllText(Path.Combine(Root, CommandReference.PagePath));

        foreach (string option in Emissary.Cli.RunCli.Options.Select(o => o.Name).Append("--tls-cert").Append("--as-pod").Append("--engine").Append("--json").Append("-wait_file_content"))
        {
            page.Should().Contain($"`{option}", "every option is documented");
        }
    }

    [Fact]
    public void Every_relative_link_and_anchor_in_README_and_docs_resolves()
    {
        IReadOnlyList<MarkdownLinks.Broken> broken = MarkdownLinks.Check(Root, Pages());

        broken.Should().BeEmpty("every link of README.md and docs/*.md must reach a file and, for #anchor, a heading of it:\n{0}",
            string.Join("\n", broken));
    }

    [Fact]
    public void The_link_check_finds_a_missing_page_a_missing_anchor_and_ignores_code()
    {
        string dir = Directory.CreateTempSubdirectory("emissary-docs-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "a.md"), "# Page A\n\n## `emissary run [options]` (in pods)\n\n## Twice\n\n## Twice\n");
            File.WriteAllText(Path.Combine(dir, "b.md"),
                "# B\n\n[ok](a.md#emissary-run-options-in-pods) [ok](a.md#twice-1) [ok](#b) [site](https://example.com/#x)\n" +
                "[gone](c.md) and [no anchor](a.md#twice-2)\n`[in code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n[self](#nope)\n");

            var broken = MarkdownLinks.Check(dir, ["b.md"]);

            broken.Select(b => (b.Line, b.Target)).Should().Equal((4, "c.md"), (4, "a.md#twice-2"), (9, "#nope"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("`emissary rewrite [FILE...] [-o FILE]` (in `emissary-tools`)", "emissary-rewrite-file--o-file-in-emissary-tools")]
    [InlineData("Tekton: Emissary as Tekton's entrypoint image", "tekton-emissary-as-tektons-entrypoint-image")]
    [InlineData("`emissary start NAME`, `emissary skip NAME`", "emissary-start-name-emissary-skip-name")]
    [InlineData("Results and the termination message", "results-and-the-termination-message")]
    public void Heading_ids_are_GitHubs(string heading, string id) => MarkdownLinks.Slug(heading).Should().Be(id);
}
