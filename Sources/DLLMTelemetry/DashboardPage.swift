/// The collector's dashboard: one self-contained HTML page (inline CSS and JS, no
/// CDN) that polls `/api/series` every second and draws the loss, learning-rate and
/// throughput curves as inline SVG, with the latest aggregate row beside them.
public enum DashboardPage {
    /// Curve colours (the loss colour is what the headless-browser test looks for).
    public static let lossColour = "#d62728"
    public static let learningRateColour = "#1f77b4"
    public static let throughputColour = "#2ca02c"

    public static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>dllm collector</title>
        <style>
          body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fafafa; }
          h1 { font-size: 18px; margin: 0 0 4px; }
          #status { color: #555; margin-bottom: 12px; }
          .charts { display: flex; flex-wrap: wrap; gap: 16px; }
          .chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
          .chart h2 { font-size: 14px; margin: 0 0 4px; }
          table { border-collapse: collapse; margin-top: 12px; background: #fff; }
          td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
          th { background: #f0f0f0; }
          select { margin-left: 8px; }
        </style>
        </head>
        <body>
        <h1>dllm run <span id="run">—</span><select id="runs" title="run"></select></h1>
        <div id="status">waiting for the collector…</div>
        <div class="charts">
          <div class="chart"><h2>loss (mean over ranks)</h2><svg id="loss" width="520" height="240"></svg></div>
          <div class="chart"><h2>learning rate</h2><svg id="lr" width="520" height="240"></svg></div>
          <div class="chart"><h2>tokens/s (all ranks)</h2><svg id="tps" width="520" height="240"></svg></div>
        </div>
        <table id="last"></table>
        <script>
        "use strict";
        let run = new URLSearchParams(location.search).get("run");
        const token = new URLSearchParams(location.search).get("token");
        const W = 520, H = 240, L = 64, R = 12, T = 10, B = 26;

        function label(v) {
          if (v === 0) return "0";
          const a = Math.abs(v);
          if (Number.isInteger(v) && a < 1e9) return v.toLocaleString("en-US");
          if (a >= 0.01 && a < 1e5) return v.toPrecision(3);
          return v.toExponential(1);
        }

        function ticks(lo, hi) {
          if (!(hi > lo)) return [lo];
          const raw = (hi - lo) / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
          const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw);
          const out = [];
          for (let t = Math.floor(lo / step) * step; t <= hi + step / 2 && out.length < 20; t += step) out.push(t);
          return out;
        }

        function draw(id, xs, ys, colour) {
          const svg = document.getElementById(id);
          const pts = [];
          for (let k = 0; k < xs.length; k++) if (ys[k] !== null && isFinite(ys[k])) pts.push([xs[k], ys[k]]);
          if (pts.length === 0) {
            svg.innerHTML = '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle" fill="#888">no data yet</text>';
            return;
          }
          let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
          let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
          if (x1 === x0) x1 = x0 + 1;
          if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
          const yt = ticks(y0, y1);
          y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt[yt.length - 1]);
          const px = x => L + (x - x0) / (x1 - x0) * (W - L - R);
          const py = y => T + (H - T - B) - (y - y0) / (y1 - y0) * (H - T - B);
          let s = '';
          for (const t of yt) {
            s += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + py(t) + '" y2="' + py(t) + '" stroke="#eee"/>';
            s += '<text x="' + (L - 6) + '" y="' + (py(t) + 4) + '" text-anchor="end" font-size="11" fill="#444">' + label(t) + '</text>';
          }
          for (const t of ticks(x0, x1)) {
            if (t < x0 || t > x1) continue;
            s += '<text x="' + px(t) + '" y="' + (H - 8) + '" text-anchor="middle" font-size="11" fill="#444">' + label(t) + '</text>';
          }
          s += '<rect x="' + L + '" y="' + T + '" width="' + (W - L - R) + '" height="' + (H - T - B) + '" fill="none" stroke="#bbb"/>';
          const d = pts.map((p, k) => (k ? 'L' : 'M') + px(p[0]).toFixed(1) + ' ' + py(p[1]).toFixed(1)).join(' ');
          s += '<path class="curve" data-points="' + pts.length + '" d="' + d + '" fill="none" stroke="' + colour + '" stroke-width="2.5"/>';
          svg.innerHTML = s;
        }

        function showLast(row) {
          const table = document.getElementById("last");
          if (!row) { table.innerHTML = ""; return; }
          const cells = [
            ["step", row.step], ["ranks", row.ranks + "/" + row.world_size],
            ["loss", row.loss], ["lr", row.lr], ["grad norm", row.grad_norm],
            ["tokens/s", row.tokens_per_s], ["step time max (s)", row.step_time_max],
            ["comm share", row.comm_share], ["slowest rank", row.slowest_rank]];
          table.innerHTML = "<tr>" + cells.map(c => "<th>" + c[0] + "</th>").join("") + "</tr><tr>"
            + cells.map(c => "<td>" + (c[1] === undefined || c[1] === null ? "–" : (typeof c[1] === "number" ? label(c[1]) : c[1])) + "</td>").join("") + "</tr>";
        }

        async function refresh() {
          try {
            const q = new URLSearchParams();
            if (run) q.set("run", run);
            if (token) q.set("token", token);
            const r = await fetch("/api/series" + (q.toString() ? "?" + q.toString() : ""), { cache: "no-store" });
            if (r.status === 404) { document.getElementById("status").textContent = "no runs yet"; return; }
            const s = await r.json();
            document.getElementById("run").textContent = s.run;
            const sel = document.getElementById("runs");
            if (sel.options.length !== s.runs.length) {
              sel.innerHTML = s.runs.map(id => "<option>" + id.replace(/[<&]/g, "") + "</option>").join("");
            }
            sel.value = s.run;
            draw("loss", s.step, s.loss, "\(lossColour)");
            draw("lr", s.step, s.lr, "\(learningRateColour)");
            draw("tps", s.step, s.tokens_per_s, "\(throughputColour)");
            showLast(s.last);
            document.getElementById("status").textContent =
              (s.finished ? "finished" : "running") + " · " + s.step.length + " points"
              + (s.world_size ? " · " + s.world_size + (s.world_size === 1 ? " rank" : " ranks") : "")
              + (s.missing ? " · " + s.missing + " events missing" : "")
              + " · updated " + new Date().toLocaleTimeString();
          } catch (e) {
            document.getElementById("status").textContent = "collector unreachable (" + e + ")";
          }
        }
        document.getElementById("runs").addEventListener("change", e => { run = e.target.value; refresh(); });
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>

        """
}
