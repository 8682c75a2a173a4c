namespace Emissary.Tools.Local;

/// <summary>The runner's <see cref="IStepOutput"/>: the steps' output to the --output-dir files when there is one, else prefixed to the console.</summary>
internal sealed class StepOutput(PrefixedPipes pipes, OutputDirectory? directory, LocalConsole console) : IStepOutput
{
    public (int Stdout, int Stderr) OpenStreams(string step) => directory is not null
        ? (directory.Open(step, toStderr: false), directory.Open(step, toStderr: true))
        : (pipes.Create(step, toStderr: false), pipes.Create(step, toStderr: true));

    public void ChildStarted(int stdout, int stderr)
    {
        // The child has its copies; ours would keep the pipes open for ever.
        foreach (int fd in new[] { stdout, stderr })
        {
            if (directory is not null)
            {
                directory.Release(fd);
            }
            else
            {
                pipes.Release(fd);
            }
        }
    }

    public void Write(string step, byte[] bytes, bool toStderr)
    {
        if (directory is not null)
        {
            directory.Write(step, bytes, toStderr);
        }
        else
        {
            pipes.Print(step, bytes, toStderr);
        }
    }

    public void Note(string line) => console.Print(line, toStderr: true);
}
