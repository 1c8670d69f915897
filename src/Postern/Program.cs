using Postern.Cli;

return await PosternCli.RunAsync(args).ConfigureAwait(false);
