using Emissary.Foundation.Sequences;
using System.Text;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>
/// The credential flags of Tekton's legacy creds-init (pkg/credentials/gitcreds, dockercreds,
/// writer), in the same files and formats: secrets are read from
/// <c>/tekton/creds-secrets/SECRET/</c> while the flags are parsed (a missing one is a flag error,
/// exit 2), then before the step waits <c>/tekton/creds/</c> gets <c>.gitconfig</c>,
/// <c>.git-credentials</c>, <c>.ssh/{id_SECRET,config,known_hosts}</c> and
/// <c>.docker/config.json</c> (only those with entries), and those are copied into $HOME (dirs
/// 0700, files 0600). Write and copy errors are only logged, as in Tekton.
/// </summary>
internal sealed class TektonCredentials
{
    private readonly List<(string Secret, string Url, string User, string Password)> _basicGit = [];
    private readonly List<(string Secret, string Url, string Key, string KnownHosts)> _sshGit = [];
    private readonly List<(string Url, string User, string Password)> _basicDocker = [];
    private readonly List<string> _dockerConfig = [];
    private readonly List<string> _dockerCfg = [];
    private readonly TektonPaths _paths;

    private TektonCredentials(TektonPaths paths) => _paths = paths;

    /// <summary>Reads the secrets the flags name; throws <see cref="GoFlagException"/> with Go's wording when one cannot be read.</summary>
    public static TektonCredentials Load(TektonCredentialFlags flags, TektonPaths paths)
    {
        var creds = new TektonCredentials(paths);
        foreach (string value in flags.BasicGit)
        {
            (string secret, string url) = Pair("basic-git", value);
            if (creds._basicGit.Any(e => e.Url == url))
            {
                throw Invalid("basic-git", value, $"multiple entries for url: {url}");
            }
            creds._basicGit.Add((secret, url, creds.Secret("basic-git", value, secret, "username"), creds.Secret("basic-git", value, secret, "password")));
        }
        foreach (string value in flags.SshGit)
        {
            (string secret, string url) = Pair("ssh-git", value);
            string knownHosts = File.Exists($"{paths.CredsSecrets}/{secret}/known_hosts") ? creds.Secret("ssh-git", value, secret, "known_hosts") : "";
            creds._sshGit.Add((secret, url, creds.Secret("ssh-git", value, secret, "ssh-privatekey"), knownHosts));
        }
        foreach (string value in flags.BasicDocker)
        {
            (string secret, string url) = Pair("basic-docker", value);
            if (creds._basicDocker.Any(e => e.Url == url))
            {
                throw Invalid("basic-docker", value, $"multiple entries for url: {url}");
            }
            creds._basicDocker.Add((url, creds.Secret("basic-docker", value, secret, "username"), creds.Secret("basic-docker", value, secret, "password")));
        }
        creds._dockerConfig.AddRange(flags.DockerConfig);
        creds._dockerCfg.AddRange(flags.DockerCfg);
        return creds;
    }

    /// <summary>Writes /tekton/creds/* for the loaded secrets (docker first, then git, as main.go's builders).</summary>
    public void Write()
    {
        Try("docker", WriteDocker);
        Try("git", WriteGit);
    }

    /// <summary>CopyCredsToHome: .docker, .gitconfig, .git-credentials, .ssh from /tekton/creds into $HOME.</summary>
    public static void CopyToHome(TektonPaths paths)
    {
        if (!Directory.Exists(paths.Creds))
        {
            return;
        }
        string? home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home))
        {
            GoLog.Print("non-fatal error copying credentials: \"$HOME is not defined\"");
            return;
        }
        int credsFd = Libc.OpenRetrying(paths.Creds, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (credsFd < 0)
        {
            return;
        }
        using var creds = new SafeFd(credsFd);
        foreach (string name in new[] { ".docker", ".gitconfig", ".git-credentials", ".ssh" })
        {
            try
            {
                CopyTree(credsFd, name, $"{paths.Creds}/{name}", $"{home}/{name}", depth: 0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                GoLog.Print($"warning: unsuccessful cred copy: \"{name}\" from \"{paths.Creds}\" to \"{home}\": {e.Message}");
            }
        }
    }

    /// <summary>A credential file is small; a larger one is not copied (and never read whole).</summary>
    private const int MaxCredentialBytes = 1 << 20;

    /// <summary>
    /// Copies <paramref name="name"/> in <paramref name="parentFd"/> to <paramref name="destination"/>.
    /// /tekton/creds and $HOME (/tekton/home) are shared by every step of the TaskRun, so another
    /// step may have planted links or FIFOs in either: the source is read relative to descriptors,
    /// never through a link (a link to this step's own secret would copy it where the planter reads
    /// it), bounded; the destination is written through <see cref="WritePath"/> (no planted link
    /// followed). Depth is bounded: credentials are two levels deep.
    /// </summary>
    private static void CopyTree(int parentFd, string name, string source, string destination, int depth)
    {
        StatX? st = Libc.StatAt(parentFd, name);
        if (st is null)
        {
            return; // absent: nothing to copy
        }
        if (st.Value.Kind == FileType.Directory && depth < 4)
        {
            using SafeFd? directory = Descriptors.OpenKindAt(parentFd, name, FileType.Directory, Libc.O_RDONLY | Libc.O_DIRECTORY);
            if (directory is null)
            {
                return;
            }
            MakeDirectory(destination, 0x1C0 /* 0700 */);
            foreach (byte[] entry in Directories.List(directory.Fd))
            {
                string child = Encoding.UTF8.GetString(entry);
                CopyTree(directory.Fd, child, $"{source}/{child}", $"{destination}/{child}", depth + 1);
            }
            return;
        }
        BoundedRead read = UntrustedFile.Read(parentFd, name, MaxCredentialBytes);
        if (read.Outcome != ReadOutcome.Read)
        {
            GoLog.Print($"warning: unsuccessful cred copy: \"{source}\": {read.Problem ?? "not a regular file"}: not copied");
            return;
        }
        WriteFile(destination, read.Bytes!);
    }

    /// <summary>Makes <paramref name="path"/> a directory (its parents too) without following a planted link; an existing directory is kept.</summary>
    private static void MakeDirectory(string path, uint mode)
    {
        try
        {
            using SafeFd made = WritePath.OpenDirectory(path, create: true, mode);
        }
        catch (WritePathException e)
        {
            throw new IOException($"{path}: {e.Message}", e);
        }
    }

    private void WriteGit()
    {
        var gitconfig = new StringBuilder();
        if (_basicGit.Count > 0)
        {
            gitconfig.Append("[credential]\n\thelper = store\n");
            foreach (var e in _basicGit)
            {
                string user = e.User.Replace("\\", "\\\\", StringComparison.Ordinal);
                gitconfig.Append($"[credential \"{e.Url}\"]\n\tusername = {user}\n{(HasPath(e.Url) ? "\tuseHttpPath = true\n" : "")}");
            }
            // Host-only URLs first (fallbacks), then repository-specific ones; stable otherwise.
            var lines = _basicGit.OrderBy(e => HasPath(e.Url) ? 1 : 0).Select(e => AuthUrl(e.Url, e.User, e.Password));
            WriteFile($"{_paths.Creds}/.git-credentials", Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
        }
        if (_sshGit.Count > 0)
        {
            string sshDir = $"{_paths.Creds}/.ssh";
            MakeDirectory(sshDir, 0x1ED /* 0755 */);
            var config = new StringBuilder();
            var knownHosts = new List<string>();
            var urls = _sshGit.Select(e => e.Url).Distinct().OrderBy(u => SshUrl(u).Path.Length == 0 ? 0 : 1).ToList();
            foreach (string url in urls)
            {
                (string host, string port, string path) = SshUrl(url);
                string alias = host;
                if (path.Length > 0)
                {
                    string trimmed = path.TrimStart('/');
                    alias = host + "--" + trimmed.Replace("/", "--", StringComparison.Ordinal);
                    gitconfig.Append($"[url \"git@{alias}:{trimmed}.git\"]\n\tinsteadOf = git@{host}:{trimmed}.git\n");
                    gitconfig.Append(port != "22"
                        ? $"[url \"ssh://{alias}/{trimmed}.git\"]\n\tinsteadOf = ssh://{host}:{port}/{trimmed}.git\n"
                        : $"[url \"ssh://{alias}/{trimmed}.git\"]\n\tinsteadOf = ssh://{host}/{trimmed}.git\n");
                }
                config.Append($"Host {alias}\n    HostName {host}\n    Port {port}\n");
                foreach (var e in _sshGit.Where(e => e.Url == url))
                {
                    WriteFile($"{sshDir}/id_{e.Secret}", Encoding.UTF8.GetBytes(e.Key));
                    config.Append($"    IdentityFile {sshDir}/id_{e.Secret}\n");
                    if (e.KnownHosts.Length > 0)
                    {
                        knownHosts.Add(e.KnownHosts);
                    }
                }
            }
            WriteFile($"{sshDir}/config", Encoding.UTF8.GetBytes(config.ToString()));
            if (knownHosts.Count > 0)
            {
                WriteFile($"{sshDir}/known_hosts", Encoding.UTF8.GetBytes(string.Join("\n", knownHosts)));
            }
        }
        if (gitconfig.Length > 0)
        {
            WriteFile($"{_paths.Creds}/.gitconfig", Encoding.UTF8.GetBytes(gitconfig.ToString()));
        }
    }

    private void WriteDocker()
    {
        // auths: .dockercfg secrets, then config.json secrets, then -basic-docker (later wins).
        var auths = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string secret in _dockerCfg)
        {
            MergeAuths(auths, File.ReadAllBytes($"{_paths.CredsSecrets}/{secret}/.dockercfg"), nested: false);
        }
        foreach (string secret in _dockerConfig)
        {
            MergeAuths(auths, File.ReadAllBytes($"{_paths.CredsSecrets}/{secret}/.dockerconfigjson"), nested: true);
        }
        foreach (var e in _basicDocker)
        {
            string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{e.User}:{e.Password}"));
            auths[e.Url] = JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("username", e.User);
                json.WriteString("password", e.Password);
                json.WriteString("auth", auth);
                json.WriteString("email", "not@val.id");
                json.WriteEndObject();
            });
        }
        if (auths.Count == 0)
        {
            return;
        }
        MakeDirectory($"{_paths.Creds}/.docker", 0x1ED /* 0755 */);
        string content = "{\"auths\":{" + string.Join(",", auths.Select(a => JsonText.Write(j => j.WriteStringValue(a.Key)) + ":" + a.Value)) + "}}";
        WriteFile($"{_paths.Creds}/.docker/config.json", Encoding.UTF8.GetBytes(content));
    }

    /// <summary>Each registry's entry, re-serialised with the fields Tekton's entry keeps (username, password, auth, email).</summary>
    private static void MergeAuths(SortedDictionary<string, string> auths, byte[] content, bool nested)
    {
        JsonValue document = JsonValue.Parse(content);
        JsonValue root = document;
        if (nested && !root.TryGetProperty("auths", out root))
        {
            return;
        }
        foreach (JsonProperty registry in root.Properties)
        {
            auths[registry.Name] = JsonText.Write(json =>
            {
                json.WriteStartObject();
                foreach (string field in new[] { "username", "password", "auth", "email" })
                {
                    string value = registry.Value.TryGetProperty(field, out JsonValue v) && v.Kind == JsonKind.String ? v.GetString()! : "";
                    if (value.Length > 0 || field == "auth")
                    {
                        json.WriteString(field, value);
                    }
                }
                json.WriteEndObject();
            });
        }
    }

    private static void Try(string what, Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonFormatException)
        {
            GoLog.Print($"Error initializing credentials: {what}: {e.Message}");
        }
    }

    /// <summary>Replaces <paramref name="path"/> (mode 0600) without following a link another step planted; missing parents are made.</summary>
    private static void WriteFile(string path, byte[] content) =>
        AtomicFile.Write(path, content, UnixFileMode.UserRead | UnixFileMode.UserWrite, createParents: true);

    private string Secret(string flag, string value, string secret, string key)
    {
        string path = $"{_paths.CredsSecrets}/{secret}/{key}";
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(flag, value, $"open {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : e.Message)}");
        }
    }

    private static (string Secret, string Url) Pair(string flag, string value)
    {
        string[] parts = value.Split('=');
        return parts.Length == 2 ? (parts[0], parts[1]) : throw Invalid(flag, value, $"expect entries of the form secret=url, got: {value}");
    }

    private static GoFlagException Invalid(string flag, string value, string problem) => new($"invalid value \"{value}\" for flag -{flag}: {problem}");

    private static bool HasPath(string url) => Uri.TryCreate(url, UriKind.Absolute, out Uri? u) && u.AbsolutePath is not ("" or "/");

    /// <summary>https://user:password@host/path, as url.UserPassword renders it.</summary>
    private static string AuthUrl(string url, string user, string password)
    {
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        string userInfo = Uri.EscapeDataString(user) + ":" + Uri.EscapeDataString(password) + "@";
        return scheme < 0 ? userInfo + url : url[..(scheme + 3)] + userInfo + url[(scheme + 3)..];
    }

    /// <summary>host[:port][/path]: port 22 when absent.</summary>
    private static (string Host, string Port, string Path) SshUrl(string raw)
    {
        string path = "";
        int slash = raw.IndexOf('/');
        if (slash >= 0)
        {
            path = raw[slash..];
            raw = raw[..slash];
        }
        int colon = raw.LastIndexOf(':');
        return colon > 0 && !raw[..colon].Contains(':') ? (raw[..colon], raw[(colon + 1)..], path) : (raw, "22", path);
    }
}
