/* Charts with Apache ECharts (node_modules/echarts, served at /vendor/echarts).
 *
 * A chart is a `[data-echart]` element holding a `.echart-canvas` and its data as
 * `<script type="application/json">` (names already translated by the server). Kinds:
 *   daily — entries / conversions (bars) and revenue (line, right axis) per day;
 *   lift  — each variant's lift over the baseline with its confidence interval as a bar;
 *   tasks — guide tasks issued and done per day (the task dashboard);
 *   funnel — the journey's steps in path order, one horizontal bar per step (customers who
 *            reached it), the conversions last (the journey report);
 *   attribution — the top stores / guides / regions by sales, store- and guide-attributed
 *            stacked (the attribution report);
 *   compare — two versions side by side, one pair of horizontal bars per row (the backtest's
 *            customers per step and port).
 * Bars' and tooltips' words come written by the server; a holder's height may be set by it
 * too (one row per step or name).
 * Charts are drawn on load and in whatever htmx swaps in, and follow the window's size. */
(function () {
  "use strict";

  const css = (name, fallback) =>
    getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  const GREY = "#d0d5dd";
  const AXIS = { axisLabel: { color: "#667085" }, splitLine: { lineStyle: { color: "#eaecf0" } } };

  function daily(spec) {
    const colors = [GREY, css("--primary", "#2f6fed"), "#12b76a"];
    return {
      color: colors,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 64, top: 36, bottom: 28 },
      xAxis: { type: "category", data: spec.days, axisLabel: { color: "#667085" } },
      yAxis: [
        { type: "value", name: spec.axes[0], minInterval: 1, ...AXIS },
        { type: "value", name: spec.axes[1], ...AXIS, splitLine: { show: false } },
      ],
      series: spec.series.map((s) => ({
        name: s.name,
        type: s.kind,
        yAxisIndex: s.axis || 0,
        data: s.data,
        barMaxWidth: 18,
      })),
    };
  }

  function lift(spec) {
    const primary = css("--primary", "#2f6fed");
    const intervals = spec.variants.map((_, i) => [i, spec.low[i], spec.high[i]]);
    return {
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const i = items[0].dataIndex;
          const lo = spec.low[i], hi = spec.high[i];
          const ci = lo === null ? "—" : `${lo} … ${hi}`;
          return `${spec.variants[i]}<br>${spec.lift[i]} · ${spec.interval}: ${ci}`;
        },
      },
      grid: { left: 48, right: 24, top: 40, bottom: 28 },
      title: { text: spec.name, textStyle: { fontSize: 12, fontWeight: 500, color: "#667085" } },
      xAxis: { type: "category", data: spec.variants, axisLabel: { color: "#667085" } },
      yAxis: { type: "value", ...AXIS },
      series: [
        {
          name: spec.name,
          type: "scatter",
          data: spec.lift,
          symbolSize: 10,
          itemStyle: { color: primary },
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 0 }], lineStyle: { color: "#98a2b3" } },
        },
        {
          name: spec.interval,
          type: "custom",
          data: intervals.filter((d) => d[1] !== null),
          encode: { x: 0, y: [1, 2] }, // the interval's ends count for the axis's range
          renderItem: (params, api) => {
            const x = api.value(0);
            const lo = api.coord([x, api.value(1)]);
            const hi = api.coord([x, api.value(2)]);
            const w = 8; // half the cap's width, px
            const style = { stroke: primary, lineWidth: 2 };
            return {
              type: "group",
              children: [
                { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
                { type: "line", shape: { x1: lo[0] - w, y1: lo[1], x2: lo[0] + w, y2: lo[1] }, style },
                { type: "line", shape: { x1: hi[0] - w, y1: hi[1], x2: hi[0] + w, y2: hi[1] }, style },
              ],
            };
          },
          z: 1,
        },
      ],
    };
  }

  function tasks(spec) {
    return {
      color: [GREY, css("--primary", "#2f6fed")],
      tooltip: { trigger: "axis" },
      grid: { left: 36, right: 12, top: 12, bottom: 24 },
      xAxis: { type: "category", data: spec.days, axisLabel: { color: "#667085" } },
      yAxis: { type: "value", minInterval: 1, ...AXIS },
      series: [
        { name: spec.names[0], type: "bar", data: spec.issued, barGap: "-100%", barMaxWidth: 22 },
        { name: spec.names[1], type: "bar", data: spec.done, barMaxWidth: 12 },
      ],
    };
  }

  const esc = (text) => echarts.format.encodeHTML(String(text));

  // Horizontal bars, first category on top (names can be long: the axis gets the room).
  const rows = (names) => ({
    type: "category",
    data: names,
    inverse: true,
    axisTick: { show: false },
    axisLabel: { color: "#344054", width: 160, overflow: "truncate" },
  });

  function funnel(spec) {
    const colors = { step: css("--primary", "#2f6fed"), exit: "#98a2b3", conversion: "#12b76a" };
    return {
      tooltip: {
        trigger: "item",
        formatter: (item) => [esc(item.name), ...spec.tips[item.dataIndex].map(esc)].join("<br>"),
      },
      grid: { left: 8, right: 110, top: 8, bottom: 8 },
      xAxis: { type: "value", minInterval: 1, ...AXIS },
      yAxis: rows(spec.steps),
      series: [
        {
          name: spec.name,
          type: "bar",
          barMaxWidth: 20,
          data: spec.values.map((v, i) => ({ value: v, itemStyle: { color: colors[spec.kinds[i]] } })),
          label: {
            show: true,
            position: "right",
            color: "#344054",
            formatter: (item) => spec.labels[item.dataIndex],
          },
        },
      ],
    };
  }

  function attribution(spec) {
    return {
      color: [css("--primary", "#2f6fed"), "#12b76a"],
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: (items) => {
          const i = items[0].dataIndex;
          const lines = items.map((s) => `${s.marker}${esc(s.seriesName)}: ${spec.money[s.seriesIndex][i]}`);
          return [esc(spec.names[i]), ...lines, `${esc(spec.total)}: ${spec.totals[i]}`].join("<br>");
        },
      },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 32, bottom: 8 },
      xAxis: { type: "value", ...AXIS },
      yAxis: rows(spec.names),
      series: spec.series.map((name, k) => ({
        name,
        type: "bar",
        stack: "sales",
        barMaxWidth: 20,
        data: k === 0 ? spec.store : spec.guide,
      })),
    };
  }

  function compare(spec) {
    return {
      color: [GREY, css("--primary", "#2f6fed")],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 48, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1, ...AXIS },
      yAxis: rows(spec.rows),
      series: spec.series.map((s) => ({
        name: s.name,
        type: "bar",
        barMaxWidth: 12,
        data: s.data,
        label: { show: true, position: "right", color: "#344054", fontSize: 11 },
      })),
    };
  }

  const KINDS = { daily, lift, tasks, funnel, attribution, compare };
  const drawn = new Set();

  function draw(root) {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll("[data-echart]").forEach((el) => {
      const holder = el.querySelector(".echart-canvas");
      const data = el.querySelector('script[type="application/json"]');
      const kind = KINDS[el.dataset.echart];
      if (!holder || !data || !kind) return;
      if (echarts.getInstanceByDom(holder)) return; // drawn already
      const chart = echarts.init(holder, null, { renderer: "canvas" });
      chart.setOption(kind(JSON.parse(data.textContent)));
      drawn.add(chart);
    });
  }

  function start() {
    draw(document);
    // an outerHTML swap replaces its target: look at the whole page, drawn charts are skipped
    document.body.addEventListener("htmx:afterSettle", () => draw(document));
    window.addEventListener("resize", () => {
      drawn.forEach((c) => (c.isDisposed() ? drawn.delete(c) : c.resize()));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
