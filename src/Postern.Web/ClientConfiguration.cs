// Client autoconfiguration documents, made from the server's listeners:
// - Thunderbird's autoconfig file (clientConfig version 1.1), fetched from
//   https://autoconfig.DOMAIN/mail/config-v1.1.xml or /.well-known/autoconfig/mail/config-v1.1.xml;
// - Outlook's "plain old XML" autodiscover ([MS-OXDSCLI]): a POST of the user's address to
//   https://autodiscover.DOMAIN/autodiscover/autodiscover.xml, answered with IMAP and SMTP settings;
// - an Apple configuration profile (.mobileconfig, com.apple.mail.managed payload) to download.
// Implicit TLS is listed before STARTTLS (RFC 8314 §5.1). The user name is the email address,
// which is how Postern accounts log in.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml;

namespace Postern.Web;

/// <summary>Builds the autoconfiguration documents and reads autodiscover requests.</summary>
internal static class ClientConfiguration
{
    /// <summary>Largest autodiscover request body read.</summary>
    public const int MaxAutodiscoverRequestBytes = 16 * 1024;

    public const string AutodiscoverRequestNamespace = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
    public const string AutodiscoverResponseNamespace = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
    public const string OutlookResponseNamespace = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

    private static XmlWriterSettings WriterSettings => new() { Encoding = new UTF8Encoding(false), Indent = true, NewLineChars = "\n" };

    /// <summary>Thunderbird's config-v1.1.xml for <paramref name="domain"/>.</summary>
    public static byte[] Thunderbird(string domain, MailClientSettings s)
    {
        using var ms = new MemoryStream();
        using (var w = XmlWriter.Create(ms, WriterSettings))
        {
            w.WriteStartDocument();
            w.WriteStartElement("clientConfig");
            w.WriteAttributeString("version", "1.1");
            w.WriteStartElement("emailProvider");
            w.WriteAttributeString("id", domain);
            w.WriteElementString("domain", domain);
            w.WriteElementString("displayName", domain);
            w.WriteElementString("displayShortName", domain);
            foreach (var (type, port, socket) in new[] { ("imap", s.ImapsPort, "SSL"), ("imap", s.ImapPort, "STARTTLS") })
                Server(w, "incomingServer", type, s.HostName, port, socket);
            foreach (var (type, port, socket) in new[] { ("smtp", s.SubmissionsPort, "SSL"), ("smtp", s.SubmissionPort, "STARTTLS") })
                Server(w, "outgoingServer", type, s.HostName, port, socket);
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndDocument();
        }
        return ms.ToArray();
    }

    private static void Server(XmlWriter w, string element, string type, string host, int? port, string socketType)
    {
        if (port is not { } p) return;
        w.WriteStartElement(element);
        w.WriteAttributeString("type", type);
        w.WriteElementString("hostname", host);
        w.WriteElementString("port", p.ToString(CultureInfo.InvariantCulture));
        w.WriteElementString("socketType", socketType);
        w.WriteElementString("username", "%EMAILADDRESS%");
        // Over TLS; Postern also offers SCRAM, which Thunderbird does not speak.
        w.WriteElementString("authentication", "password-cleartext");
        w.WriteEndElement();
    }

    /// <summary>
    /// The email address of an autodiscover request, or null with a reason when the body is not one.
    /// The XML is read without DTDs or external entities (no XXE) and within a size limit.
    /// </summary>
    public static string? ReadAutodiscoverRequest(ReadOnlySpan<byte> body, out string? error)
    {
        error = null;
        if (body.Length > MaxAutodiscoverRequestBytes)
        {
            error = "request too large";
            return null;
        }
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxAutodiscoverRequestBytes,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        try
        {
            using var reader = XmlReader.Create(new MemoryStream(body.ToArray()), settings);
            bool root = true;
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element) continue;
                if (root)
                {
                    if (reader.LocalName != "Autodiscover")
                    {
                        error = "not an Autodiscover request";
                        return null;
                    }
                    root = false;
                    continue;
                }
                if (reader.LocalName == "EMailAddress")
                {
                    string address = reader.ReadElementContentAsString().Trim();
                    if (address.Length is 0 or > 320)
                    {
                        error = "bad EMailAddress";
                        return null;
                    }
                    return address;
                }
            }
        }
        catch (XmlException e)
        {
            error = "malformed XML: " + e.Message;
            return null;
        }
        error = "no EMailAddress";
        return null;
    }

    /// <summary>The POX autodiscover response with IMAP and SMTP settings for <paramref name="email"/>.</summary>
    public static byte[] Autodiscover(string email, MailClientSettings s)
    {
        using var ms = new MemoryStream();
        using (var w = XmlWriter.Create(ms, WriterSettings))
        {
            w.WriteStartDocument();
            w.WriteStartElement("Autodiscover", AutodiscoverResponseNamespace);
            w.WriteStartElement("Response", OutlookResponseNamespace);
            w.WriteStartElement("Account", OutlookResponseNamespace);
            w.WriteElementString("AccountType", OutlookResponseNamespace, "email");
            w.WriteElementString("Action", OutlookResponseNamespace, "settings");
            // One Protocol per type; implicit TLS when offered, else STARTTLS ("TLS").
            Protocol(w, "IMAP", s.HostName, email, s.ImapsPort is { } i ? (i, "SSL") : s.ImapPort is { } j ? (j, "TLS") : null);
            Protocol(w, "SMTP", s.HostName, email, s.SubmissionsPort is { } k ? (k, "SSL") : s.SubmissionPort is { } l ? (l, "TLS") : null);
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndDocument();
        }
        return ms.ToArray();
    }

    private static void Protocol(XmlWriter w, string type, string host, string email, (int Port, string Encryption)? service)
    {
        if (service is not { } svc) return;
        string ns = OutlookResponseNamespace;
        w.WriteStartElement("Protocol", ns);
        w.WriteElementString("Type", ns, type);
        w.WriteElementString("Server", ns, host);
        w.WriteElementString("Port", ns, svc.Port.ToString(CultureInfo.InvariantCulture));
        w.WriteElementString("LoginName", ns, email);
        w.WriteElementString("DomainRequired", ns, "off");
        w.WriteElementString("SPA", ns, "off");
        w.WriteElementString("Encryption", ns, svc.Encryption);
        w.WriteElementString("AuthRequired", ns, "on");
        w.WriteEndElement();
    }

    /// <summary>An unsigned Apple configuration profile with one IMAP account for <paramref name="email"/>.</summary>
    public static byte[] AppleProfile(string email, string domain, MailClientSettings s)
    {
        var (inPort, inTls) = s.ImapsPort is { } i ? (i, true) : (s.ImapPort ?? 993, true);
        var (outPort, outTls) = s.SubmissionsPort is { } k ? (k, true) : (s.SubmissionPort ?? 465, true);
        string reverse = string.Join('.', domain.Split('.').Reverse());
        using var ms = new MemoryStream();
        using (var w = XmlWriter.Create(ms, WriterSettings))
        {
            w.WriteStartDocument();
            w.WriteDocType("plist", "-//Apple//DTD PLIST 1.0//EN", "http://www.apple.com/DTDs/PropertyList-1.0.dtd", null);
            w.WriteStartElement("plist");
            w.WriteAttributeString("version", "1.0");
            w.WriteStartElement("dict");
            Key(w, "PayloadContent");
            w.WriteStartElement("array");
            w.WriteStartElement("dict");
            String(w, "EmailAccountDescription", email);
            String(w, "EmailAccountType", "EmailTypeIMAP");
            String(w, "EmailAddress", email);
            String(w, "IncomingMailServerAuthentication", "EmailAuthPassword");
            String(w, "IncomingMailServerHostName", s.HostName);
            Integer(w, "IncomingMailServerPortNumber", inPort);
            Bool(w, "IncomingMailServerUseSSL", inTls);
            String(w, "IncomingMailServerUsername", email);
            String(w, "OutgoingMailServerAuthentication", "EmailAuthPassword");
            String(w, "OutgoingMailServerHostName", s.HostName);
            Integer(w, "OutgoingMailServerPortNumber", outPort);
            Bool(w, "OutgoingMailServerUseSSL", outTls);
            String(w, "OutgoingMailServerUsername", email);
            Bool(w, "OutgoingPasswordSameAsIncomingPassword", true);
            String(w, "PayloadDisplayName", "Mail " + email);
            String(w, "PayloadIdentifier", $"{reverse}.postern.mail.{StableUuid("account", email)}");
            String(w, "PayloadType", "com.apple.mail.managed");
            String(w, "PayloadUUID", StableUuid("account", email));
            Integer(w, "PayloadVersion", 1);
            w.WriteEndElement();
            w.WriteEndElement();
            String(w, "PayloadDisplayName", "Mail for " + email);
            String(w, "PayloadIdentifier", $"{reverse}.postern.profile.{StableUuid("profile", email)}");
            Bool(w, "PayloadRemovalDisallowed", false);
            String(w, "PayloadType", "Configuration");
            String(w, "PayloadUUID", StableUuid("profile", email));
            Integer(w, "PayloadVersion", 1);
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndDocument();
        }
        return ms.ToArray();
    }

    /// <summary>A UUID derived from the address, so that downloading the profile again replaces it rather than adding a second one.</summary>
    private static string StableUuid(string kind, string email)
    {
        byte[] h = SHA256.HashData(Encoding.UTF8.GetBytes(kind + "\n" + email.ToLowerInvariant()));
        h[6] = (byte)((h[6] & 0x0f) | 0x50); // version 5 layout (name-based)
        h[8] = (byte)((h[8] & 0x3f) | 0x80); // RFC 9562 variant
        return new Guid(h.AsSpan(0, 16), bigEndian: true).ToString().ToUpperInvariant();
    }

    private static void Key(XmlWriter w, string key) => w.WriteElementString("key", key);

    private static void String(XmlWriter w, string key, string value)
    {
        Key(w, key);
        w.WriteElementString("string", value);
    }

    private static void Integer(XmlWriter w, string key, int value)
    {
        Key(w, key);
        w.WriteElementString("integer", value.ToString(CultureInfo.InvariantCulture));
    }

    private static void Bool(XmlWriter w, string key, bool value)
    {
        Key(w, key);
        w.WriteStartElement(value ? "true" : "false");
        w.WriteEndElement();
    }
}
