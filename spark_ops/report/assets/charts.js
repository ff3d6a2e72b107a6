// Draws the charts of a spark-ops HTML report with uPlot. The data comes from the JSON block
// #spark-charts (read as text, never as markup); each chart goes into the element whose id it names.
(function () {
  "use strict";
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"];
  var specs = JSON.parse(document.getElementById("spark-charts").textContent);

  function width(el) {
    return Math.max(320, Math.min(900, el.clientWidth || 640));
  }

  // Vertical lines (percentiles, thresholds) at positions on the x scale, labelled at the top.
  function markerHook(markers) {
    return function (u) {
      var ctx = u.ctx;
      markers.forEach(function (m, i) {
        var x = Math.round(u.valToPos(m.position, "x", true));
        ctx.save();
        ctx.strokeStyle = m.threshold ? "#dc2626" : "#111827";
        ctx.setLineDash(m.threshold ? [6, 4] : [2, 3]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.fillStyle = ctx.strokeStyle;
        ctx.font = 11 * devicePixelRatio + "px sans-serif";
        ctx.fillText(m.label, x + 3 * devicePixelRatio, u.bbox.top + (12 + 12 * (i % 4)) * devicePixelRatio);
        ctx.restore();
      });
    };
  }

  function histogram(el, spec) {
    var xs = spec.labels.map(function (_, i) { return i; });
    return new uPlot({
      width: width(el),
      height: 220,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
      axes: [
        {
          label: spec.x_label,
          values: function (u, splits) {
            return splits.map(function (i) { return spec.labels[i] === undefined ? "" : spec.labels[i]; });
          },
        },
        { label: spec.y_label },
      ],
      series: [{}, { label: spec.series[0].label, fill: "#93c5fd", stroke: "#2563eb", points: { show: false },
                     paths: uPlot.paths.bars({ size: [0.9, 60] }) }],
      hooks: { draw: [markerHook(spec.markers || [])] },
    }, [xs, spec.series[0].values], el);
  }

  function lines(el, spec) {
    var series = [{}].concat(spec.series.map(function (s, i) {
      return { label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true,
               points: { show: true, size: 5 } };
    }));
    var scales = { x: { time: spec.time } };
    if (spec.y_range) { scales.y = { range: spec.y_range }; }
    return new uPlot({
      width: width(el),
      height: 200,
      // Times are shown in UTC, as everywhere else in spark-ops, whatever the viewer's time zone.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: scales,
      axes: [{ label: spec.x_label }, { label: spec.y_label }],
      series: series,
    }, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
  }

  specs.forEach(function (spec) {
    var el = document.getElementById(spec.id);
    (spec.type === "histogram" ? histogram : lines)(el, spec);
    el.setAttribute("data-drawn", "true");
  });
  document.body.setAttribute("data-charts-drawn", String(specs.length));
})();
