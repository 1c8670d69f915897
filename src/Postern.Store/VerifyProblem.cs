namespace Postern.Store;

/// <summary>One problem found by the store verifier (<c>postern verifydata</c>).</summary>
/// <param name="Location">Database, account, mailbox or file concerned.</param>
/// <param name="Description">What is wrong.</param>
/// <param name="Explainable">True for leftovers an interrupted write can leave (orphan file after a crash between rename and commit, temp files); anything else means damage or a bug.</param>
/// <param name="Fixed">True when a fix was requested and applied.</param>
public sealed record VerifyProblem(string Location, string Description, bool Explainable, bool Fixed);
