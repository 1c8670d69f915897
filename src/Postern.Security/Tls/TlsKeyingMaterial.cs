using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Text;

namespace Postern.Security.Tls;

// TLS keying material exporter (RFC 5705, RFC 8446 §7.5) for the tls-exporter channel binding
// (RFC 9266), which SCRAM-*-PLUS clients use by default on TLS 1.3.
//
// .NET 10's SslStream has no exporter API (dotnet/runtime#112529 is an open proposal). On Linux
// SslStream runs on the system OpenSSL, and its non-public field `_securityContext` is a
// SafeDeleteSslContext whose handle is the connection's `SSL*`. We call OpenSSL's
// SSL_export_keying_material on it. Because that reaches into runtime internals, every
// assumption is checked before the pointer is used, and any mismatch turns the feature off
// (tls-exporter is then simply not offered; tls-server-end-point keeps working):
//   - Linux only, and only the runtime major version this was verified on (10);
//   - the field exists with exactly that name and type name, and is a live SafeHandle;
//   - the libssl used is the one the runtime itself loaded (found in /proc/self/maps), so the
//     SSL* and the function come from the same library;
//   - SSL_version(ssl) equals the protocol SslStream reports, a cheap proof that the pointer is
//     the SSL object of this very connection.
// RFC 9266 §3: on TLS 1.2 the exporter is only safe with the extended master secret (RFC
// 7627), so it is offered there only when OpenSSL says EMS was negotiated.
// A test compares the output with `openssl s_client -keymatexport`, so a runtime update that
// breaks any of this is noticed by the test suite, not by users.

/// <summary>Exports TLS keying material from an authenticated <see cref="SslStream"/> where the platform allows it.</summary>
public static class TlsKeyingMaterial
{
    /// <summary>The RFC 9266 exporter label.</summary>
    public const string ChannelBindingLabel = "EXPORTER-Channel-Binding";

    private const int SslCtrlGetExtmsSupport = 122; // OpenSSL SSL_CTRL_GET_EXTMS_SUPPORT
    private static readonly FieldInfo? SecurityContextField = FindSecurityContextField();
    // Loaded on first use after a handshake, when the runtime has certainly mapped libssl.
    private static readonly Lazy<OpenSsl?> Ssl = new(OpenSsl.Load);

    /// <summary>
    /// True when this process can export keying material (Linux, .NET 10, the runtime's libssl
    /// found). Meaningful once the process has completed a TLS handshake.
    /// </summary>
    public static bool IsSupported => SecurityContextField is not null && Ssl.Value is not null;

    /// <summary>
    /// The 32-octet tls-exporter channel binding (RFC 9266 §2) of the connection, or null when it is
    /// not available (platform, protocol, TLS 1.2 without extended master secret, or any check failing).
    /// </summary>
    public static byte[]? ExportChannelBinding(SslStream stream) => Export(stream, ChannelBindingLabel, 32);

    /// <summary>Exports <paramref name="length"/> octets for <paramref name="label"/> with no context (RFC 5705 §4), or null when unavailable.</summary>
    public static byte[]? Export(SslStream stream, string label, int length)
    {
        if (!IsSupported || !stream.IsAuthenticated || length is <= 0 or > 1024)
            return null;
        int expectedVersion = stream.SslProtocol switch
        {
            SslProtocols.Tls12 => 0x0303,
            SslProtocols.Tls13 => 0x0304,
            _ => 0,
        };
        if (expectedVersion == 0)
            return null;
        if (SecurityContextField!.GetValue(stream) is not SafeHandle context || context.IsInvalid || context.IsClosed)
            return null;
        bool added = false;
        try
        {
            context.DangerousAddRef(ref added);
            IntPtr ssl = context.DangerousGetHandle();
            OpenSsl openssl = Ssl.Value!;
            if (ssl == IntPtr.Zero || openssl.Version(ssl) != expectedVersion)
                return null;
            if (expectedVersion == 0x0303 && openssl.Ctrl(ssl, SslCtrlGetExtmsSupport, 0, IntPtr.Zero) != 1)
                return null;
            byte[] labelBytes = Encoding.ASCII.GetBytes(label);
            byte[] output = new byte[length];
            // use_context = 0: RFC 9266 §2 uses no context; on TLS 1.3 that equals an empty one.
            return openssl.ExportKeyingMaterial(ssl, output, (nuint)length, labelBytes, (nuint)labelBytes.Length, IntPtr.Zero, 0, 0) == 1
                ? output
                : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added)
                context.DangerousRelease();
        }
    }

    private static FieldInfo? FindSecurityContextField()
    {
        if (!OperatingSystem.IsLinux() || Environment.Version.Major != 10)
            return null;
        FieldInfo? field = typeof(SslStream).GetField("_securityContext", BindingFlags.NonPublic | BindingFlags.Instance);
        return field is { FieldType.FullName: "System.Net.Security.SafeDeleteSslContext" }
               && typeof(SafeHandle).IsAssignableFrom(field.FieldType)
            ? field
            : null;
    }

    /// <summary>The few OpenSSL functions needed, bound to the libssl the runtime itself loaded.</summary>
    private sealed unsafe class OpenSsl
    {
        private readonly delegate* unmanaged<IntPtr, int> _version;
        private readonly delegate* unmanaged<IntPtr, int, long, IntPtr, long> _ctrl;
        private readonly delegate* unmanaged<IntPtr, byte*, nuint, byte*, nuint, IntPtr, nuint, int, int> _export;

        private OpenSsl(IntPtr lib)
        {
            _version = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(lib, "SSL_version");
            _ctrl = (delegate* unmanaged<IntPtr, int, long, IntPtr, long>)NativeLibrary.GetExport(lib, "SSL_ctrl");
            _export = (delegate* unmanaged<IntPtr, byte*, nuint, byte*, nuint, IntPtr, nuint, int, int>)NativeLibrary.GetExport(lib, "SSL_export_keying_material");
        }

        public int Version(IntPtr ssl) => _version(ssl);

        public long Ctrl(IntPtr ssl, int cmd, long larg, IntPtr parg) => _ctrl(ssl, cmd, larg, parg);

        public int ExportKeyingMaterial(IntPtr ssl, byte[] output, nuint outputLength, byte[] label, nuint labelLength, IntPtr context, nuint contextLength, int useContext)
        {
            fixed (byte* o = output)
            fixed (byte* l = label)
                return _export(ssl, o, outputLength, l, labelLength, context, contextLength, useContext);
        }

        public static OpenSsl? Load()
        {
            if (!OperatingSystem.IsLinux() || Environment.Version.Major != 10)
                return null;
            string? path = LoadedLibsslPath();
            if (path is null || !NativeLibrary.TryLoad(path, out IntPtr lib))
                return null;
            try
            {
                return new OpenSsl(lib);
            }
            catch (EntryPointNotFoundException)
            {
                return null;
            }
        }

        /// <summary>The path of the libssl mapped into this process, from /proc/self/maps.</summary>
        private static string? LoadedLibsslPath()
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/self/maps"))
                {
                    int slash = line.IndexOf('/', StringComparison.Ordinal);
                    if (slash < 0)
                        continue;
                    string path = line[slash..];
                    if (Path.GetFileName(path).StartsWith("libssl.so", StringComparison.Ordinal))
                        return path;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            return null;
        }
    }
}
