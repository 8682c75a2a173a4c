using Emissary.Logging;

namespace Emissary.Tekton;

/// <summary>
/// Lines in the shape Go's standard <c>log</c> package gives them ("2026/08/20 10:00:05 message"),
/// which is what Tekton's entrypoint prints to stderr and what its users grep for. Stdout belongs
/// to the step.
/// </summary>
internal static class GoLog
{
    public static void Print(string message)
    {
        DateTime now = DateTime.UtcNow;
        StderrWriter.WriteLine($"{now.Year:D4}/{now.Month:D2}/{now.Day:D2} {now.Hour:D2}:{now.Minute:D2}:{now.Second:D2} {message}");
    }
}
