"""coordination.k8s.io/v1 Lease as kube-apiserver serves it: the spec is decoded into Go types (int32 durations
and transitions, MicroTime times that must be RFC 3339 with exactly six fractional digits, written back in UTC),
then validated (pkg/apis/coordination/validation: leaseDurationSeconds > 0, leaseTransitions >= 0, preferredHolder
only with a strategy, strategy a known name or a qualified name). Optimistic concurrency (resourceVersion on
update, AlreadyExists on create) is the API's general rule and lives in api.py."""

import datetime
import re

import schema as schemalib

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
STRATEGIES = ["OldestEmulationVersion"]
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
INT32 = (-(1 << 31), (1 << 31) - 1)


class DecodeError(Exception):
    """The body cannot be decoded into the Go type (a 400 BadRequest)."""


def type_name(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, list):
        return "array"
    return "object"


def parse_micro_time(s):
    """time.Parse(RFC3339Micro, s): returns a UTC datetime or raises DecodeError with Go's message."""
    layout = [("2006", r"\d{4}"), ("-", "-"), ("01", r"\d{2}"), ("-", "-"), ("02", r"\d{2}"), ("T", "T"), ("15", r"\d{2}"),
              (":", ":"), ("04", r"\d{2}"), (":", ":"), ("05", r"\d{2}"), (".000000", r"\.\d{6}"), ("Z07:00", r"Z|[+-]\d{2}:\d{2}")]
    rest = s
    values = []
    for i, (elem, rx) in enumerate(layout):
        m = re.match(rx, rest)
        if not m:
            raise DecodeError('parsing time "%s" as "%s": cannot parse "%s" as "%s"' % (s, RFC3339_MICRO, rest, elem))
        values.append(m.group(0))
        rest = rest[m.end():]
    if rest:
        raise DecodeError('parsing time "%s": extra text: "%s"' % (s, rest))
    year, month, day, hour, minute, second = (int(values[i]) for i in (0, 2, 4, 6, 8, 10))
    micro = int(values[11][1:])
    for name, v, lo, hi in (("month", month, 1, 12), ("hour", hour, 0, 23), ("minute", minute, 0, 59), ("second", second, 0, 59)):
        if not lo <= v <= hi:
            raise DecodeError('parsing time "%s": %s out of range' % (s, name))
    try:
        t = datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=datetime.timezone.utc)
    except ValueError:
        raise DecodeError('parsing time "%s": day out of range' % s)
    zone = values[12]
    if zone != "Z":
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (1 if zone[0] == "+" else -1)
        t -= datetime.timedelta(minutes=offset)
    return t


def format_micro_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


def prepare(obj, errs):
    """Decodes and normalises obj["spec"] in place (DecodeError on type errors), then appends validation errors."""
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise DecodeError("json: cannot unmarshal %s into Go struct field Lease.spec of type v1.LeaseSpec" % type_name(spec))
    for field in ("holderIdentity", "strategy", "preferredHolder"):
        v = spec.get(field)
        if v is not None and not isinstance(v, str):
            raise DecodeError("json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type string" % (type_name(v), field))
    for field in ("leaseDurationSeconds", "leaseTransitions"):
        v = spec.get(field)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()) \
                or not INT32[0] <= v <= INT32[1]:
            raise DecodeError("json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type int32"
                              % (type_name(v) if not isinstance(v, (int, float)) or isinstance(v, bool) else "number " + str(v), field))
        spec[field] = int(v)
    for field in ("acquireTime", "renewTime"):
        v = spec.get(field)
        if v is None:
            spec.pop(field, None)
            continue
        if not isinstance(v, str):
            raise DecodeError("json: cannot unmarshal %s into Go value of type string" % type_name(v))
        spec[field] = format_micro_time(parse_micro_time(v))
    d = spec.get("leaseDurationSeconds")
    if d is not None and d <= 0:
        errs.append(schemalib.FieldError("Invalid", "spec.leaseDurationSeconds", d, "must be greater than 0"))
    n = spec.get("leaseTransitions")
    if n is not None and n < 0:
        errs.append(schemalib.FieldError("Invalid", "spec.leaseTransitions", n, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        parts = strategy.split("/")
        if len(parts) == 1:
            if strategy not in STRATEGIES:
                errs.append(schemalib.FieldError("NotSupported", "spec.strategy.strategy", strategy, supported=STRATEGIES))
        elif not (len(parts) == 2 and parts[0] and len(parts[1]) <= 63 and QUALIFIED.match(parts[1])):
            errs.append(schemalib.FieldError("Invalid", "spec.strategy.strategy", strategy,
                                             "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
    if spec.get("preferredHolder") and not strategy:
        errs.append(schemalib.FieldError("Forbidden", "spec.preferredHolder", detail="may only be specified if `strategy` is defined"))
