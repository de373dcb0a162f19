#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time helpers (RFC 3339 as Kubernetes writes it), on libc.
public enum Clock {
    /// Seconds since the epoch, with fractions.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// "2006-01-02T15:04:05Z" in UTC, as metav1.Time serialises.
    public static func rfc3339(_ t: Double = now()) -> String {
        var secs = time_t(t.rounded(.down))
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        return String(format4(Int(tmv.tm_year) + 1900)) + "-" + pad2(Int(tmv.tm_mon) + 1) + "-" + pad2(Int(tmv.tm_mday)) +
            "T" + pad2(Int(tmv.tm_hour)) + ":" + pad2(Int(tmv.tm_min)) + ":" + pad2(Int(tmv.tm_sec)) + "Z"
    }

    /// "2006-01-02T15:04:05.000000Z" in UTC, as metav1.MicroTime serialises.
    public static func rfc3339Micro(_ t: Double = now()) -> String {
        let whole = t.rounded(.down)
        var micros = String(Int(((t - whole) * 1e6).rounded(.down)))
        micros = String(repeating: "0", count: max(0, 6 - micros.count)) + micros
        return String(rfc3339(whole).dropLast()) + "." + micros + "Z"
    }

    /// RFC 3339 with nanoseconds in the local time zone, trailing zeros of the fraction
    /// dropped (Go's time.RFC3339Nano), as flux writes reconcile.fluxcd.io/requestedAt.
    public static func rfc3339NanoLocal(_ t: Double = now()) -> String {
        var secs = time_t(t.rounded(.down))
        let nanos = Int(((t - Double(secs)) * 1e9).rounded())
        var tmv = tm()
        localtime_r(&secs, &tmv)
        var s = String(format4(Int(tmv.tm_year) + 1900)) + "-" + pad2(Int(tmv.tm_mon) + 1) + "-" + pad2(Int(tmv.tm_mday)) +
            "T" + pad2(Int(tmv.tm_hour)) + ":" + pad2(Int(tmv.tm_min)) + ":" + pad2(Int(tmv.tm_sec))
        if nanos > 0 && nanos < 1_000_000_000 {
            var frac = String(nanos)
            frac = String(repeating: "0", count: 9 - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        let off = Int(tmv.tm_gmtoff)
        if off == 0 { return s + "Z" }
        let sign = off < 0 ? "-" : "+"
        return s + sign + pad2(abs(off) / 3600) + ":" + pad2((abs(off) % 3600) / 60)
    }

    /// Parses RFC 3339 (with optional fraction and offset); nil when malformed.
    public static func parse(_ s: String) -> Double? {
        let u = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= u.count else { return nil }
            var v = 0
            for i in from..<(from + n) {
                guard u[i] >= 48 && u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard u.count >= 20, let y = num(0, 4), u[4] == 45, let mo = num(5, 2), u[7] == 45, let d = num(8, 2),
              u[10] == 84 || u[10] == 116 || u[10] == 32, let h = num(11, 2), u[13] == 58, let mi = num(14, 2), u[16] == 58,
              let sec = num(17, 2) else { return nil }
        var i = 19
        var frac = 0.0
        if i < u.count && u[i] == 46 {
            i += 1
            var scale = 0.1
            while i < u.count && u[i] >= 48 && u[i] <= 57 { frac += Double(u[i] - 48) * scale; scale /= 10; i += 1 }
        }
        var offset = 0
        guard i < u.count else { return nil }
        if u[i] == 90 || u[i] == 122 {
            i += 1
        } else if u[i] == 43 || u[i] == 45 {
            guard let oh = num(i + 1, 2), i + 3 < u.count, u[i + 3] == 58, let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (u[i] == 45 ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == u.count else { return nil }
        var tmv = tm()
        tmv.tm_year = Int32(y - 1900)
        tmv.tm_mon = Int32(mo - 1)
        tmv.tm_mday = Int32(d)
        tmv.tm_hour = Int32(h)
        tmv.tm_min = Int32(mi)
        tmv.tm_sec = Int32(sec)
        let t = timegm(&tmv)
        return Double(t - offset) + frac
    }

    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
    static func format4(_ v: Int) -> String {
        let s = String(v)
        return s.count >= 4 ? s : String(repeating: "0", count: 4 - s.count) + s
    }

    /// kubectl's human duration (k8s.io/apimachinery/pkg/util/duration.HumanDuration).
    public static func humanDuration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        if s < -1 { return "<invalid>" }
        if s < 0 { return "0s" }
        if s < 120 { return "\(s)s" }
        let minutes = s / 60
        if minutes < 10 {
            let r = s % 60
            return r == 0 ? "\(minutes)m" : "\(minutes)m\(r)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = s / 3600
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let dy = (hours / 24) % 365
            return dy == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(dy)d"
        }
        return "\(hours / 24 / 365)y"
    }
}
