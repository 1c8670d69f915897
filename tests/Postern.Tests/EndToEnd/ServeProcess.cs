using Postern.Testing;

namespace Postern.Tests;

/// <summary>`postern serve --config CONF` of this build, as a <see cref="PosternServeProcess"/> (tests/Shared).</summary>
internal static class ServeProcess
{
    public static PosternServeProcess Start(string conf) => PosternServeProcess.Start(PosternProcess.DllPath, "serve", "--config", conf);
}
