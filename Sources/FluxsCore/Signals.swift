import FluxsKube
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM end fluxs without leaving its temporary files behind: both are blocked in every thread and
/// waited for on a thread of their own, which removes this process's temporaries (`$TMPDIR/fluxs-<what>-<pid>-<n>`,
/// see tempPath) and then ends the process with the same signal. Nothing is registered: the pid names them.
public enum SignalCleanup {
    static var handled: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Call first in main, before any thread starts (threads inherit the blocked set). The result lets a
    /// long-running command take the signals over (`takeOver`) to stop gracefully.
    @discardableResult
    public static func install() -> SignalWaiter? {
        var set = handled
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var thread = pthread_t()
        if pthread_create(&thread, nil, { _ in SignalCleanup.wait(); return nil }, nil) == 0 {
            return SignalWaiter(thread: thread)
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return nil
    }

    /// Waits for SIGINT or SIGTERM on the calling thread (after `SignalWaiter.takeOver`); returns the signal.
    public static func waitForTermination() -> Int32 {
        var set = handled
        var sig: Int32 = 0
        while sigwait(&set, &sig) != 0 {}
        return sig
    }

    static func wait() {
        var set = handled
        var sig: Int32 = 0
        while sigwait(&set, &sig) != 0 {}
        removeTemporaries(pid: getpid())
        signal(sig, SIG_DFL)
        var one = sigset_t()
        sigemptyset(&one)
        sigaddset(&one, sig)
        pthread_sigmask(SIG_UNBLOCK, &one, nil)
        kill(getpid(), sig)
        _exit(128 + sig)
    }

    /// The thread that ends the process on SIGINT/SIGTERM.
    public final class SignalWaiter: @unchecked Sendable {
        let thread: pthread_t
        private var taken = false
        init(thread: pthread_t) { self.thread = thread }

        /// Stops the waiting thread so that the caller handles the signals itself (they stay blocked): the caller
        /// then owns cleanup (`removeTemporaries`) and the exit status.
        public func takeOver() {
            guard !taken else { return }
            taken = true
            pthread_cancel(thread)
            pthread_join(thread, nil)
        }
    }

    /// Removes `$TMPDIR/fluxs-<what>-<pid>-<n>` of one process.
    public static func removeTemporaries(pid: Int32) {
        let dir = Files.env("TMPDIR") ?? "/tmp"
        for name in Files.list(dir) {
            let parts = name.split(separator: "-")
            if parts.count == 4, parts[0] == "fluxs", parts[2] == String(pid) { Files.removeTree(dir + "/" + name) }
        }
    }
}
