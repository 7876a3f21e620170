"""The daily report, from SQL alone: what the database holds is what it
says, whichever consumer (or how many) put it there.
  report.md    per site and local day: visitors in and out, completeness,
               where the figure comes from (the day total, or the day's
               counts so far), and the sequence gaps seen per gateway
  daily.csv    the same rows, for a spreadsheet or a test
  report.png   visitors per hour (the last day) and per day, per site"""
import csv
import os

# Per gateway and store, each run of missing seqs, and whether a health
# message of that store named the seq after it as a run's first_seq (a
# restart: the numbers were never used) or not (dropped by the gateway).
GAPS = """
SELECT g.gateway, g.store, g.prev + 1, g.seq - 1,
       EXISTS (SELECT 1 FROM restarts r WHERE r.gateway = g.gateway AND r.store = g.store
               AND r.first_seq = g.seq)
FROM (SELECT gateway, store, seq,
             LAG(seq) OVER (PARTITION BY gateway, store ORDER BY seq) AS prev
      FROM seen) g
WHERE g.seq - g.prev > 1 ORDER BY g.gateway, g.store, g.seq"""

# Per local day: the day total where the day has one, else the day's
# counts so far (the day is not over, or the gateway predates day totals).
# An interval sent with no data counts as missing, not as zero.
DAILY = """
WITH days AS (
  SELECT gateway, device, point, day, count AS visitors, completeness, 'day_total' AS source
  FROM counts WHERE type = 'day_total'
  UNION ALL
  SELECT c.gateway, c.device, c.point, c.local_day, SUM(COALESCE(c.count, 0)),
         COALESCE(SUM(c.seconds * COALESCE(c.completeness, 0)) / NULLIF(SUM(c.seconds), 0), 0),
         'counts so far'
  FROM counts c
  WHERE c.type = 'count' AND NOT EXISTS (
    SELECT 1 FROM counts t WHERE t.type = 'day_total' AND t.gateway = c.gateway
      AND t.device = c.device AND t.point = c.point AND t.day = c.local_day)
  GROUP BY c.gateway, c.device, c.point, c.local_day)
SELECT COALESCE(d.site, days.device) AS site, days.device, days.point, days.day,
       days.visitors, days.completeness, days.source
FROM days LEFT JOIN devices d ON d.gateway = days.gateway AND d.device = days.device
ORDER BY 1, 2, 3, 4"""

# Visitors in per site and local hour of the newest local day.
HOURLY = """
SELECT COALESCE(d.site, c.device), c.local_hour, SUM(c.count)
FROM counts c LEFT JOIN devices d ON d.gateway = c.gateway AND d.device = c.device
WHERE c.type = 'count' AND c.count IS NOT NULL AND c.point LIKE '%\\_in' ESCAPE '\\'
  AND c.local_day = (SELECT MAX(local_day) FROM counts WHERE type = 'count')
GROUP BY 1, 2 ORDER BY 1, 2"""


def gaps(db):
    return [(gateway if not store else f"{gateway} (store {store})", int(first), int(last),
             bool(restart)) for gateway, store, first, last, restart in db.query(GAPS)]


def daily_rows(db):
    return [(site, device, point, day, int(visitors) if visitors is not None else None,
             float(done) if done is not None else None, source)
            for site, device, point, day, visitors, done, source in db.query(DAILY)]


def hourly(db):
    """(newest local day, {site: {local hour: visitors in}})."""
    per = {}
    for site, hour, visitors in db.query(HOURLY):
        per.setdefault(site, {})[int(hour)] = int(visitors)
    newest = db.query("SELECT MAX(local_day) FROM counts WHERE type = 'count'")[0][0]
    return newest or "", per


def write_report(db, out_dir, tz):
    os.makedirs(out_dir, exist_ok=True)
    rows = daily_rows(db)
    gap_list = gaps(db)
    day, hours = hourly(db)
    duplicates = db.stat("duplicates")
    messages = db.query("SELECT COUNT(*) FROM seen")[0][0]
    with open(os.path.join(out_dir, "daily.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["site", "device", "point", "day", "visitors", "completeness", "source"])
        for r in rows:
            w.writerow(list(r[:5]) + [f"{r[5]:.3f}" if r[5] is not None else "", r[6]])
    os.replace(os.path.join(out_dir, "daily.csv.tmp"), os.path.join(out_dir, "daily.csv"))
    lines = ["# Visitors per site and local day", "",
             f"{messages} messages kept, {duplicates} duplicates dropped; time zone {tz.key}.", "",
             "| site | device | point | day | visitors | completeness | from |",
             "|---|---|---|---|---:|---:|---|"]
    lines += [f"| {s} | {d} | {p} | {dd} | {v} | {c:.1%} | {src} |"
              for s, d, p, dd, v, c, src in rows]
    lines += ["", "## Sequence gaps", ""]
    lines += [f"- {g}: seq {a}..{b} missing ({'a restart: numbers never used' if r else 'dropped by the gateway (see its health)'})"
              for g, a, b, r in gap_list] or ["none"]
    with open(os.path.join(out_dir, "report.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out_dir, "report.md.tmp"), os.path.join(out_dir, "report.md"))
    draw_chart(rows, day, hours, os.path.join(out_dir, "report.png"))


def draw_chart(rows, day, hours, path):
    """Visitors in per local hour of the newest day (an hour with no count
    has no bar: missing, not zero) and per day, one colour per site."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (per_hour, per_day) = plt.subplots(2, 1, figsize=(10, 7))
    sites = sorted(set(hours) | {r[0] for r in rows if r[2].endswith("_in")})
    width = 0.8 / max(1, len(sites))
    for i, site in enumerate(sites):
        by_hour = hours.get(site, {})
        per_hour.bar([h + i * width for h in by_hour], list(by_hour.values()), width, label=site)
    per_hour.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    per_hour.set_xlim(-0.6, 23.6)
    per_hour.set_title(f"Visitors in per hour, {day} (local time)")
    days = sorted({r[3] for r in rows})[-14:]
    for i, site in enumerate(sites):
        values = [sum(r[4] or 0 for r in rows if r[0] == site and r[3] == d and r[2].endswith("_in"))
                  for d in days]
        per_day.bar([k + i * width for k in range(len(days))], values, width, label=site)
    per_day.set_xticks([k + 0.4 - width / 2 for k in range(len(days))], days)
    per_day.set_xlim(-0.6, max(len(days), 7) - 0.4)  # a bar stays a bar with few days
    per_day.set_title("Visitors in per day (the last 14)")
    for ax in (per_hour, per_day):
        if sites:
            ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path + ".tmp.png")
    plt.close(fig)
    os.replace(path + ".tmp.png", path)
