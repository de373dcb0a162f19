#if canImport(Glibc)
import Glibc
#endif

/// Runs a program with posix_spawn (no Foundation.Process on the start-up path).
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case notFound(String)
        case spawn(String, Int32)
        case timedOut(String, Double)

        public var description: String {
            switch self {
            case .notFound(let c): return "executable \(c) not found in PATH"
            case .spawn(let c, let e): return "cannot run \(c): \(String(cString: strerror(e)))"
            case .timedOut(let c, let t): return "\(c) did not finish within \(Int(t))s"
            }
        }
    }

    /// Finds an executable the way execvp does.
    public static func which(_ cmd: String, path: String? = nil) -> String? {
        if cmd.contains("/") { return access(cmd, X_OK) == 0 ? cmd : nil }
        let p = path ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin")
        for dir in p.split(separator: ":", omittingEmptySubsequences: false) {
            let d = dir.isEmpty ? "." : String(dir)
            let full = d + "/" + cmd
            var st = stat()
            if stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(full, X_OK) == 0 { return full }
        }
        return nil
    }

    /// The current environment as NAME=value strings.
    public static func environment() -> [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }

    /// Runs cmd with args; stdout (and stderr unless passed through) captured; stdin is /dev/null
    /// unless `input` is given.
    public static func run(_ cmd: String, _ args: [String], env: [String: String]? = nil, input: [UInt8]? = nil,
                           passStderr: Bool = false, timeout: Double = 0) throws -> Result {
        let searchPath = env?["PATH"]
        guard let exe = which(cmd, path: searchPath) else { throw Failure.notFound(cmd) }
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, pipe(&inPipe) == 0 else { throw Failure.spawn(cmd, errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        if !passStderr { posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2) }
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1], inPipe[0], inPipe[1]] {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([cmd] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let envp: [UnsafeMutablePointer<CChar>?] = (env ?? environment()).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in envp { free(e) } }
        // Its own process group (so a timeout kills what it started too) and default signal handling (fluxs blocks
        // SIGINT and SIGTERM in its threads to clean up on its own thread; a child must not inherit that).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, argv, envp)
        close(outPipe[1]); close(errPipe[1]); close(inPipe[0])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0]); close(inPipe[1])
            throw Failure.spawn(cmd, rc)
        }
        if let input {
            input.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = write(inPipe[1], raw.baseAddress! + off, raw.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
        close(inPipe[1])
        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: passStderr ? -1 : errPipe[0], events: Int16(POLLIN), revents: 0)]
        var open = passStderr ? 1 : 2
        let start = monotonicSeconds()
        var buf = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            var wait: Int32 = -1
            if timeout > 0 {
                let left = timeout - (monotonicSeconds() - start)
                if left <= 0 {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                    var st: Int32 = 0
                    waitpid(pid, &st, 0)
                    close(outPipe[0]); close(errPipe[0])
                    throw Failure.timedOut(cmd, timeout)
                }
                wait = Int32(min(left * 1000, 1000))
            }
            let r = poll(&fds, 2, wait)
            if r < 0 && errno == EINTR { continue }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, 65536) }
                if n > 0 {
                    if i == 0 { out.append(contentsOf: buf[0..<n]) } else { err.append(contentsOf: buf[0..<n]) }
                } else {
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        close(outPipe[0]); close(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exit, stdout: out, stderr: err)
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
