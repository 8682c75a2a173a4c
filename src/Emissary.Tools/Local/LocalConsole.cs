using Emissary.Logging;

namespace Emissary.Tools.Local;

/// <summary>
/// Where `emissary local` prints its lines (the steps' output, progress, notes): stdout or
/// stderr, above the <see cref="LiveView"/> when there is one. While a debug shell owns the
/// terminal (<see cref="Hold"/>) the lines wait in memory, up to <see cref="HeldLimit"/> bytes,
/// and come out when it gives the terminal back.
/// </summary>
internal sealed class LocalConsole(LiveView? live)
{
    /// <summary>What may wait while the terminal is held: a step printing without end must not fill this process's memory.</summary>
    public const int HeldLimit = 1 << 20;

    private List<(string Line, bool ToStderr)>? _held;
    private int _heldBytes;
    private int _dropped;

    public bool IsLive => live is not null;

    public bool IsHeld => _held is not null;

    public void Print(string line, bool toStderr)
    {
        if (_held is not null)
        {
            if (_heldBytes + line.Length > HeldLimit)
            {
                _dropped++;
                return;
            }
            _held.Add((line, toStderr));
            _heldBytes += line.Length;
            return;
        }
        live?.Erase();
        StderrWriter.Write(toStderr ? 2 : 1, line + "\n");
        live?.Draw();
    }

    public void Redraw()
    {
        if (_held is null)
        {
            live?.Draw();
        }
    }

    public void EraseLive() => live?.Erase();

    /// <summary>Someone else (a debug shell) owns the terminal: the live view goes, lines wait.</summary>
    public void Hold()
    {
        live?.Erase();
        _held ??= [];
    }

    /// <summary>The terminal is back: what waited is printed, with a note of what did not fit.</summary>
    public void Release()
    {
        List<(string Line, bool ToStderr)>? held = _held;
        int dropped = _dropped;
        _held = null;
        _heldBytes = _dropped = 0;
        foreach ((string line, bool toStderr) in held ?? [])
        {
            Print(line, toStderr);
        }
        if (dropped > 0)
        {
            Print($"emissary local: {dropped} line{(dropped == 1 ? "" : "s")} of output not shown (more than {HeldLimit >> 20} MiB came while the debug shell was open; --output-dir keeps everything)", toStderr: true);
        }
    }
}
