using Emissary.Gates;
using Emissary.Interop;
using Emissary.Tests.Unit.Fakes;
using Emissary.Tests.Unit.Output;

namespace Emissary.Tests.Unit;

/// <summary>What the waiter does when no inotify instance can be had, on the fake clock.</summary>
public sealed class PollingFallbackTests
{
    private readonly FakeClock _clock = new();
    private readonly CollectingLogger _logger = new();

    [Fact]
    public void Instances_exhausted_means_brief_polling_then_100_ms_with_one_warning()
    {
        var fallback = new PollingFallback(_clock, _logger);
        fallback.InstanceUnavailable(Errno.EMFILE);

        fallback.WaitWithoutInstance().Should().Be(TimeSpan.FromMilliseconds(5));
        _clock.Advance(TimeSpan.FromSeconds(1));
        fallback.InstanceUnavailable(Errno.EMFILE); // still missing: the first failure counts
        fallback.WaitWithoutInstance().Should().Be(TimeSpan.FromMilliseconds(5));
        _logger.Warnings.Should().BeEmpty();

        _clock.Advance(TimeSpan.FromSeconds(1));
        fallback.WaitWithoutInstance().Should().Be(TimeSpan.FromMilliseconds(100));
        fallback.WaitWithoutInstance().Should().Be(TimeSpan.FromMilliseconds(100));
        _logger.Warnings.Should().ContainSingle().Which.Should().Contain("max_user_instances");
        fallback.Active.Should().BeFalse("an instance may come back: it is tried again");
    }

    [Fact]
    public void An_instance_that_comes_back_restarts_the_brief_polling()
    {
        var fallback = new PollingFallback(_clock, _logger);
        fallback.InstanceUnavailable(Errno.EMFILE);
        _clock.Advance(TimeSpan.FromSeconds(3));
        fallback.InstanceAvailable();
        fallback.InstanceUnavailable(Errno.EMFILE);

        fallback.WaitWithoutInstance().Should().Be(TimeSpan.FromMilliseconds(5));
    }

    [Fact]
    public void No_watches_left_means_polling_for_good_said_once()
    {
        var fallback = new PollingFallback(_clock, _logger);
        fallback.FallBack(Errno.ENOSPC, PollingFallback.WatchesLimit);

        fallback.Active.Should().BeTrue();
        _logger.Warnings.Should().ContainSingle().Which.Should().Contain("max_user_watches");
    }
}
