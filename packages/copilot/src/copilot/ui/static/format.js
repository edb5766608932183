// The server's formatting rules (behaviour_profiles.formatting), applied in the browser: numbers, values
// in their units, changes, multiples, thresholds, p-values, spans of time, instants, windows and bounds.
// No DOM: the rules come from useRules() (helpers.js passes the shell's ui-rules block), so the same code
// runs under node in tests.

let FORMAT = null;

// The rules to apply: the `format` part of the shell's ui-rules block (behaviour_profiles.formatting.ui_rules).
export function useRules(format) {
  FORMAT = format;
}

// The server's rules, applied as behaviour_profiles.formatting applies them.

// `value` with `decimals` decimals (halves away from zero) and thousands separators.
export function fixed(value, decimals) {
  const [whole, fraction] = value.toFixed(Math.min(decimals, FORMAT.max_decimals)).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

// Significant digits below FORMAT.whole_from, whole from there on; never an exponent.
export function formatNumber(value, minDecimals = 0) {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return fixed(0, minDecimals);
  const magnitude = Math.abs(value);
  if (magnitude >= FORMAT.whole_from) return fixed(value, minDecimals);
  const exponent = Number(magnitude.toExponential().split("e")[1]);
  const decimals = Math.max(minDecimals, FORMAT.significant_digits - 1 - exponent);
  const text = fixed(value, decimals);
  if (decimals <= minDecimals) return text;
  const [whole, fraction = ""] = text.split(".");
  const kept = fraction.replace(/0+$/, "").padEnd(minDecimals, "0");
  return kept ? `${whole}.${kept}` : whole;
}

// A value in its catalogue unit, e.g. "37.1 ms", "95.0 %", "150/s", "410 MiB".
export function formatValue(value, unit) {
  if (value === null || value === undefined) return FORMAT.no_value;
  let number = Number(value);
  if (!Number.isFinite(number)) return FORMAT.no_value;
  const rule = FORMAT.units[unit || ""] || { suffix: ` ${unit}`, scale: 1, min_decimals: 0, larger_from: null, prefixes: [] };
  number *= rule.scale;
  let suffix = rule.suffix;
  if (rule.larger_from !== null && Math.abs(number) >= rule.larger_from) {
    number /= rule.larger_divisor;
    suffix = rule.larger_suffix;
  }
  if (rule.prefixes.length) {
    let step = 0;
    while (Math.abs(number) >= rule.prefix_step && step < rule.prefixes.length - 1) {
      number /= rule.prefix_step;
      step += 1;
    }
    suffix = ` ${rule.prefixes[step]}`;
  }
  return formatNumber(number, rule.min_decimals) + suffix;
}

export function formatPct(pct) {
  const size = Math.abs(pct);
  return `${pct < 0 ? "-" : "+"}${fixed(size, size >= FORMAT.pct_whole_from ? 0 : FORMAT.pct_decimals)} %`;
}

// "+312 %", "-4.5 %", or beyond ten times the old value a multiple ("×5,064"), as the API words it.
export function formatChange(pct) {
  if (pct === null || pct === undefined) return FORMAT.no_value;
  const factor = 1 + Number(pct) / 100;
  if (factor > FORMAT.multiple_from) return `${FORMAT.times}${fixed(factor, factor >= FORMAT.multiple_whole_from ? 0 : FORMAT.multiple_decimals)}`;
  return formatPct(Number(pct));
}

export function formatThreshold(pct) {
  return `${Number(Number(pct).toPrecision(FORMAT.threshold_digits))} %`;
}

export function formatP(p) {
  return p < FORMAT.p_floor ? `< ${FORMAT.p_floor}` : fixed(p, FORMAT.p_decimals);
}

// "1 h", "1 h 30 min", "45 s".
export function formatSpan(seconds) {
  let rest = Math.round(seconds);
  const parts = [];
  for (const [name, size] of FORMAT.span_units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count) parts.push(`${count} ${name}`);
  }
  return parts.join(" ") || `0 ${FORMAT.span_units[FORMAT.span_units.length - 1][0]}`;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function day(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function clock(d, seconds) {
  const minutes = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return seconds ? `${minutes}:${pad(d.getUTCSeconds())}` : minutes;
}

// An instant, as format_instant writes it: "2026-11-26 16:00 UTC", seconds only when it has any.
export function formatInstant(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${day(d)} ${clock(d, d.getUTCSeconds() !== 0)} ${FORMAT.time_zone}`;
}

// A window, as format_window writes it: "2026-11-26 16:00 → 17:00 UTC (1 h)".
export function formatWindow(start, end) {
  const a = new Date(start);
  const b = new Date(end);
  if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) return `${start} → ${end}`;
  const seconds = a.getUTCSeconds() !== 0 || b.getUTCSeconds() !== 0;
  const tail = day(a) === day(b) ? clock(b, seconds) : `${day(b)} ${clock(b, seconds)}`;
  return `${day(a)} ${clock(a, seconds)} → ${tail} ${FORMAT.time_zone} (${formatSpan((b - a) / 1000)})`;
}

export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => values[name]);
}

export const known = (value) => value !== null && value !== undefined;

// A bound in the conformance check's words: "expected under 60 ms; fails at 150 ms or more".
export function boundText(bound, unit) {
  const words = FORMAT.bound_words;
  const low = known(bound.warn_min) ? formatValue(bound.warn_min, unit) : null;
  const high = known(bound.warn_max) ? formatValue(bound.warn_max, unit) : null;
  let expected = words.any;
  if (low !== null && high !== null) expected = fill(words.between, { low, high });
  else if (low !== null) expected = fill(words.at_least, { low });
  else if (high !== null) expected = fill(words.under, { high });
  const limits = [];
  if (known(bound.min)) limits.push(fill(words.fails_under, { min: formatValue(bound.min, unit) }));
  if (known(bound.max)) limits.push(fill(words.fails_at, { max: formatValue(bound.max, unit) }));
  return fill(words.bound, { expected, limits: limits.join(words.limits_joined_by) || words.no_limit });
}
