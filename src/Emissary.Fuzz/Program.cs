using SharpFuzz;

namespace Emissary.Fuzz;

/// <summary>
/// <c>Emissary.Fuzz --list</c>: the targets, one a line. <c>Emissary.Fuzz TARGET</c>: under
/// afl-fuzz (scripts/fuzz.sh), the target in SharpFuzz's persistent loop, one input per run, in a
/// child process that afl-fuzz's crashes do not take down. <c>Emissary.Fuzz TARGET FILE...</c>:
/// each file once, saying what became of it (to triage and minimise a finding).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["--list"])
        {
            foreach (FuzzTarget t in FuzzTargets.All)
            {
                Console.WriteLine(t.Name);
            }
            return 0;
        }
        if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
        {
            Console.Error.WriteLine("usage: Emissary.Fuzz --list | TARGET [FILE...] (targets: Emissary.Fuzz --list)");
            return 2;
        }
        if (args.Length > 1)
        {
            int failed = 0;
            foreach (string file in args[1..])
            {
                try
                {
                    byte[] input = File.ReadAllBytes(file);
                    long allocated = target.Run(input);
                    Console.Error.WriteLine($"{file}: ok ({input.Length} bytes in, {allocated} bytes allocated, bound {target.AllocationBound(input.Length)})");
                }
                catch (Exception e)
                {
                    failed++;
                    Console.Error.WriteLine($"{file}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
                }
            }
            return failed == 0 ? 0 : 1;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target.Run(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        });
        return 0;
    }
}
