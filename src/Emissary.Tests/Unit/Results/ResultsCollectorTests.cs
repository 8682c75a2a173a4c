using System.Text;
using Emissary.Results;

namespace Emissary.Tests.Unit.Results;

public sealed class ResultsCollectorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-results-").FullName;

    // rm, not Directory.Delete: .NET cannot name a file whose name is not UTF-8.
    public void Dispose() => RunShell($"rm -rf '{_dir}'");

    private void Given(string name, string content) => File.WriteAllText(Path.Join(_dir, name), content);

    [Fact]
    public void Reads_every_regular_file_as_a_result_sorted_by_name_with_its_exact_bytes()
    {
        Given("digest", "sha256:abc\n");
        Given("URL", "https://example.com/a?b=c");
        File.WriteAllBytes(Path.Join(_dir, "bin"), [0, 0xFF, 0xC3, 0x28]);
        Given("empty", "");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 4096);

        collection.Errors.Should().BeEmpty();
        collection.Results.Select(r => r.Name).Should().Equal("URL", "bin", "digest", "empty");
        collection.Results.Single(r => r.Name == "digest").Value.Should().Equal(Encoding.UTF8.GetBytes("sha256:abc\n"));
        collection.Results.Single(r => r.Name == "bin").Value.Should().Equal(0, 0xFF, 0xC3, 0x28);
        collection.Results.Single(r => r.Name == "empty").Value.Should().BeEmpty();
    }

    [Fact]
    public void A_missing_directory_means_no_results_and_no_errors()
    {
        ResultsCollection collection = ResultsCollector.Collect(Path.Join(_dir, "absent"), 4096);

        collection.Results.Should().BeEmpty();
        collection.Errors.Should().BeEmpty();
    }

    [Fact]
    public void A_path_that_is_not_a_directory_is_one_error()
    {
        Given("file", "x");

        ResultsCollection collection = ResultsCollector.Collect(Path.Join(_dir, "file"), 4096);

        collection.Results.Should().BeEmpty();
        collection.Errors.Should().ContainSingle().Which.Should().Contain("Not a directory");
    }

    [Theory]
    [InlineData("a")]
    [InlineData("A9")]
    [InlineData("image-digest")]
    [InlineData("image_digest.v2")]
    [InlineData("a..b")]
    [InlineData("0")]
    public void Accepts_valid_names(string name)
    {
        Given(name, "v");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Errors.Should().BeEmpty();
        collection.Results.Should().ContainSingle().Which.Name.Should().Be(name);
    }

    [Theory]
    [InlineData("-dash")]
    [InlineData("_under")]
    [InlineData("with space")]
    [InlineData("ümlaut")]
    [InlineData("tab\tname")]
    [InlineData("a:b")]
    public void Rejects_invalid_names_with_one_error_line_each(string name)
    {
        Given(name, "v");
        Given("good", "v");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Select(r => r.Name).Should().Equal("good");
        collection.Errors.Should().ContainSingle().Which.Should().StartWith("result '").And.Contain("invalid name").And.NotContain("\n");
    }

    [Fact]
    public void The_longest_valid_name_is_253_characters()
    {
        Given(new string('a', 253), "v");
        Given(new string('b', 254), "v");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Should().ContainSingle().Which.Name.Should().HaveLength(253);
        collection.Errors.Should().ContainSingle().Which.Should().Contain("invalid name");
    }

    [Fact]
    public void A_name_that_is_not_UTF8_is_reported_readably()
    {
        // .NET would encode a path as UTF-8: create the odd name through the shell.
        RunShell($"printf v > \"$(printf '{_dir}/x\\377y')\"");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Should().BeEmpty();
        collection.Errors.Should().ContainSingle().Which.Should().Be(@"result 'x\xffy': invalid name (allowed: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters)");
    }

    [Theory]
    [InlineData(".hidden")]
    [InlineData(".digest.swp")]
    [InlineData(".digest.tmp-123")]
    public void Ignores_dot_files(string name)
    {
        Given(name, "v");

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Should().BeEmpty();
        collection.Errors.Should().BeEmpty();
    }

    [Fact]
    public void A_subdirectory_is_an_error()
    {
        Directory.CreateDirectory(Path.Join(_dir, "sub"));

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Should().BeEmpty();
        collection.Errors.Should().Equal("result 'sub': is a directory, not a regular file");
    }

    [Fact]
    public void A_symbolic_link_is_an_error_even_to_a_regular_file()
    {
        Given("target", "secret");
        File.CreateSymbolicLink(Path.Join(_dir, "link"), Path.Join(_dir, "target"));

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Select(r => r.Name).Should().Equal("target");
        collection.Errors.Should().Equal("result 'link': is a symbolic link, not a regular file");
    }

    [Fact]
    public void A_FIFO_is_an_error_and_does_not_block()
    {
        RunShell($"mkfifo '{_dir}/fifo'");

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));
        collection.Errors.Should().Equal("result 'fifo': is a FIFO, not a regular file");
    }

    [Fact]
    public void A_file_over_the_limit_is_an_error_not_a_truncated_value()
    {
        Given("big", new string('x', 11));
        Given("fits", new string('y', 10));

        ResultsCollection collection = ResultsCollector.Collect(_dir, 10);

        collection.Results.Select(r => r.Name).Should().Equal("fits");
        collection.Errors.Should().Equal("result 'big': needs 11 bytes, the termination message budget is 10");
        collection.AnyTooLarge.Should().BeTrue();
    }

    [Fact]
    public void Reads_at_most_the_limit_plus_one_byte_of_a_huge_file()
    {
        // /dev/zero through a bind would not be a regular file; a sparse 1 TiB file is, and reading
        // it whole would take minutes and all memory.
        string path = Path.Join(_dir, "huge");
        using (var stream = File.Create(path))
        {
            stream.SetLength(1L << 40);
        }

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        ResultsCollection collection = ResultsCollector.Collect(_dir, 4096);

        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2));
        collection.Errors.Should().Equal("result 'huge': needs 1099511627776 bytes, the termination message budget is 4096");
        collection.AnyTooLarge.Should().BeTrue();
    }

    [Fact]
    public void An_unreadable_file_is_an_error()
    {
        Given("secret", "v");
        File.SetUnixFileMode(Path.Join(_dir, "secret"), UnixFileMode.None);
        if (Environment.UserName == "root" || Emissary.Tests.BlackBox.Libc.IsRoot)
        {
            return; // root reads anything
        }

        ResultsCollector.Collect(_dir, 10).Errors.Should().Equal("result 'secret': Permission denied");
    }

    [Theory]
    [InlineData("ok", true)]
    [InlineData("", false)]
    [InlineData(".x", false)]
    [InlineData("a/b", false)]
    [InlineData("..", false)]
    [InlineData("é", false)]
    public void IsValidName_follows_the_documented_pattern(string name, bool valid) =>
        ResultsCollector.IsValidName(name).Should().Be(valid);

    private static void RunShell(string script)
    {
        using var process = System.Diagnostics.Process.Start("/bin/sh", ["-c", script])!;
        process.WaitForExit();
        process.ExitCode.Should().Be(0);
    }
}
