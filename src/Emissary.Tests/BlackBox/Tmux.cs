using System.Diagnostics;
using System.Runtime.Versioning;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// A real terminal for a black-box test: a tmux server of its own (its own socket), one session
/// running a shell command on a pseudo-terminal, keys typed with send-keys, the screen read with
/// capture-pane. Disposing kills the server and everything on its terminal. The server is started
/// through the test's <see cref="BlackBoxTest.Run(string, string[])"/>, so it and every process on
/// its terminal carry the test's token: anything left behind fails the test.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Tmux : IDisposable
{
    private readonly Func<string[], ProcessResult> _tmux;
    private readonly string _socket = "emissary-test-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Starts <paramref name="command"/> (a shell command line) on a 200x50 terminal.</summary>
    public Tmux(Func<string, string[], ProcessResult> run, string command)
    {
        _tmux = args => run("tmux", ["-L", _socket, .. args]);
        ProcessResult started = _tmux(["new-session", "-d", "-x", "200", "-y", "50", "-s", "t", command]);
        if (started.ExitCode != 0)
            throw new XunitException($"tmux new-session failed\n{started}");
    }

    /// <summary>Types <paramref name="line"/> and Enter.</summary>
    public void Type(string line)
    {
        _tmux(["send-keys", "-t", "t", "-l", line]);
        _tmux(["send-keys", "-t", "t", "Enter"]);
    }

    /// <summary>The screen and its scrollback, wrapped lines joined.</summary>
    public string Screen() => _tmux(["capture-pane", "-p", "-J", "-S", "-500", "-t", "t"]).Stdout;

    /// <summary>Waits until the screen shows <paramref name="text"/> <paramref name="times"/> times; returns the screen. Fails with the screen on time-out.</summary>
    public string WaitFor(string text, int times = 1, double seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        string screen;
        while (Count(screen = Screen(), text) < times)
        {
            if (clock.Elapsed.TotalSeconds > seconds)
                throw new XunitException($"the terminal did not show \"{text}\" ({times}x) within {seconds} s; it shows:\n{screen}");
            Thread.Sleep(100);
        }
        return screen;
    }

    private static int Count(string haystack, string needle)
    {
        int count = 0;
        for (int i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    public void Dispose() => _tmux(["kill-server"]);
}
