using Emissary.Interop;

namespace Emissary.Gates;

/// <summary>
/// A gate could not be set up (its FIFO opened or watched, its directory watched): said with the
/// gate it was for, so that the line names what failed rather than blaming the control directory.
/// </summary>
internal sealed class GateSetupException(Gate gate, SystemCallException inner)
    : Exception($"cannot wait for {gate}: {inner.Message}", inner)
{
    public Gate Gate { get; } = gate;
}
