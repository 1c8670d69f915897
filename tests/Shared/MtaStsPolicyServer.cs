// A tiny HTTPS server on loopback that answers every request with one configurable response:
// an MTA-STS policy server for tests (tests/Postern.Security.Tests and tests/Postern.Smtp.Tests
// include this file with <Compile Include="../Shared/MtaStsPolicyServer.cs" />).
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Postern.Testing;

/// <summary>A tiny HTTPS server on loopback answering every request with one configurable response.</summary>
internal sealed class PolicyServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _cert;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public PolicyServer(X509Certificate2 cert)
    {
        _cert = cert;
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int Requests;
    public string? LastRequest;
    public string Response { get; set; } = "";
    public TimeSpan Delay { get; set; }

    public static string Ok(string body, string contentType = "text/plain; charset=utf-8") =>
        $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await using var tls = new SslStream(client.GetStream());
                        await tls.AuthenticateAsServerAsync(_cert);
                        var request = new StringBuilder();
                        byte[] buf = new byte[4096];
                        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            int n = await tls.ReadAsync(buf);
                            if (n == 0) return;
                            request.Append(Encoding.ASCII.GetString(buf, 0, n));
                        }
                        Interlocked.Increment(ref Requests);
                        LastRequest = request.ToString();
                        await Task.Delay(Delay, _stop.Token);
                        await tls.WriteAsync(Encoding.UTF8.GetBytes(Response));
                        await tls.FlushAsync();
                    }
                    catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
                    {
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
    }
}

