using Emissary.Logging;

namespace Emissary.Tools.Local;

/// <summary>
/// Where `emissary local` prints its lines (the steps' output, progress, notes): stdout or
/// stderr, above the <see cref="LiveView"/> when there is one.
/// </summary>
internal sealed class LocalConsole(LiveView? live)
{
    public bool IsLive => live is not null;

    public void Print(string line, bool toStderr)
    {
        live?.Erase();
        StderrWriter.Write(toStderr ? 2 : 1, line + "\n");
        live?.Draw();
    }

    public void Redraw() => live?.Draw();

    public void EraseLive() => live?.Erase();
}
