using Emissary.Events;
using Emissary.Logging;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton;

/// <summary>
/// The Tekton entrypoint's wait for the previous step's file, on the wait loop's shared parts
/// (directory watch set, polling fallback), with a scripted event loop over a real directory.
/// </summary>
public sealed class TektonWaiterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emissary-tekton-wait-").FullName;
    private readonly FakeEventLoop _loop = new();
    private readonly TektonWaiter _waiter;

    public TektonWaiterTests() => _waiter = new TektonWaiter(_loop, new FakeClock(), NullLogger.Instance);

    public void Dispose()
    {
        _waiter.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void A_file_in_a_directory_that_does_not_exist_yet_is_waited_for_through_its_ancestor_without_polling()
    {
        string run = Path.Combine(_root, "run", "0");
        string file = Path.Combine(run, "out");
        _loop.Then(_ =>
        {
            Directory.CreateDirectory(run);
            return _loop.WakeFromReadyDescriptors();
        }).Then(_ =>
        {
            File.WriteAllText(file, "");
            return _loop.WakeFromReadyDescriptors();
        });

        _waiter.Wait(file, expectContent: false, errorFileMeansReady: false, detectVanished: false).Verdict.Should().Be(WaitVerdict.Ready);
        _loop.Waits.Should().Equal([null, null], "each change is an inotify event: no timer");
    }

    [Fact]
    public void An_err_file_written_between_the_check_and_the_wait_ends_the_wait_as_a_failed_previous_step()
    {
        string file = Path.Combine(_root, "out");
        _loop.Then(_ =>
        {
            File.WriteAllText(file + ".err", "");
            return _loop.WakeFromReadyDescriptors();
        });

        _waiter.Wait(file, expectContent: false, errorFileMeansReady: false, detectVanished: false).Verdict.Should().Be(WaitVerdict.PreviousFailed);
    }

    [Fact]
    public void SIGTERM_ends_the_wait()
    {
        _loop.Then(new SupervisorEvent.SignalReceived(15, 0));

        _waiter.Wait(Path.Combine(_root, "never"), expectContent: false, errorFileMeansReady: false, detectVanished: false)
            .Should().Be(new WaitOutcome(WaitVerdict.Interrupted, 15));
    }
}
