using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Eventprop.Tests.Data;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (free port) for download tests: serves byte arrays by path, answers 404
/// otherwise, and can cut a response short (announcing the full Content-Length) to simulate a broken transfer.
/// </summary>
internal sealed class LocalHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _truncated = new(StringComparer.Ordinal);
    private readonly HashSet<string> _stalled = new(StringComparer.Ordinal);
    private readonly List<string> _requests = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LocalHttpServer()
    {
        _listener.Start();
        BaseUri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/datasets/");
        _loop = Task.Run(AcceptLoop);
    }

    public Uri BaseUri { get; }

    /// <summary>Paths requested so far (relative to <see cref="BaseUri"/>).</summary>
    public IReadOnlyList<string> Requests { get { lock (_requests) return _requests.ToArray(); } }

    /// <summary>Serves <paramref name="content"/> at <paramref name="name"/>; <paramref name="truncate"/> closes the connection
    /// after half the body, <paramref name="stall"/> sends half the body and then nothing until the server stops.</summary>
    public void Serve(string name, byte[] content, bool truncate = false, bool stall = false)
    {
        lock (_files)
        {
            _files[name] = content;
            if (truncate) _truncated.Add(name); else _truncated.Remove(name);
            if (stall) _stalled.Add(name); else _stalled.Remove(name);
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    private async Task Handle(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII, false, 1024, leaveOpen: true);
                string? requestLine = await reader.ReadLineAsync();
                while (!string.IsNullOrEmpty(await reader.ReadLineAsync())) { } // headers
                string path = requestLine?.Split(' ') is [_, var p, ..] ? p : "";
                string prefix = BaseUri.AbsolutePath;
                string name = path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..] : path;
                lock (_requests) _requests.Add(name);
                byte[]? body;
                bool truncate, stall;
                lock (_files)
                {
                    _files.TryGetValue(name, out body);
                    truncate = _truncated.Contains(name);
                    stall = _stalled.Contains(name);
                }
                if (body is null)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
                    return;
                }
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(truncate || stall ? body.AsMemory(0, body.Length / 2) : body);
                await stream.FlushAsync();
                if (stall) await Task.Delay(Timeout.Infinite, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // client went away, or the server stops
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
