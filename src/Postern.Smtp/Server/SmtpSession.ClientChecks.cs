// Checks of the connecting client on the MX listener (DNS blocklists), run once per connection
// at its first MAIL FROM; the verdict is kept for the connection's later transactions.
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession
{
    private bool _clientChecked;
    private ClientRefusal? _clientRefusal;

    /// <summary>Throws the refusal of a client that a check turned away (MX listener only).</summary>
    private async Task CheckClientAsync()
    {
        if (_kind != SmtpListenerKind.Mx || Options.ClientCheckers.Count == 0) return;
        if (!_clientChecked)
        {
            foreach (ISmtpClientChecker checker in Options.ClientCheckers)
            {
                _clientRefusal = await checker.CheckClientAsync(_remote, _helo ?? "", _server.Stopping).ConfigureAwait(false);
                if (_clientRefusal is not null) break;
            }
            _clientChecked = true;
        }
        if (_clientRefusal is { } r)
            throw new SmtpCommandException(r.Code, r.Enhanced, r.Text);
    }
}
