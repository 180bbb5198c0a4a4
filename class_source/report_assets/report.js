// Draws the report's charts from the JSON the page carries; the class filter redraws the class trace.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var SCHOOL = "#3e4c59", CLASS = "#e66a2c", STAFF = "#9aa5b1", ACCENT = "#2f80ed";
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  var percent = { tickformat: ".0%", rangemode: "tozero" };
  var school = data.schoolWeeks;
  var hasWeeks = (school.week_start || []).length > 0 && school.sessions_held.some(function (n) { return n > 0; });
  var classNames = {};
  (data.classes.class_id || []).forEach(function (id, i) { classNames[id] = data.classes.class_name[i]; });

  function layout(extra) {
    var base = {
      margin: { l: 52, r: 16, t: 8, b: 40 }, hovermode: "x unified", font: { size: 12 },
      legend: { orientation: "h", y: -0.18 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      xaxis: { gridcolor: "#eef0f2" }, yaxis: { gridcolor: "#eef0f2" }
    };
    for (var key in extra) base[key] = Object.assign({}, base[key] || {}, extra[key]);
    return base;
  }
  function empty(id, message) {
    var node = document.getElementById(id);
    node.className += " empty-chart";
    node.innerHTML = '<p class="empty">' + message + "</p>";
  }
  function line(name, x, y, color, extra) {
    return Object.assign({ type: "scatter", mode: "lines+markers", name: name, x: x, y: y,
      line: { color: color, width: 2 }, marker: { size: 5 }, connectgaps: false }, extra || {});
  }
  function classSeries(id) { return id ? data.classWeeks[id] : null; }

  // charts that draw the school and, when a class is picked, that class beside it
  var weekly = [
    { id: "chart-attendance", traces: [["Attendance", "attendance_rate", SCHOOL]], y: percent },
    { id: "chart-tardiness", traces: [["Tardy", "tardy_rate", SCHOOL]], y: percent },
    { id: "chart-talk", traces: [["Students", "student_talk_share", ACCENT], ["Staff", "staff_talk_share", STAFF]],
      y: { tickformat: ".0%", range: [0, 1] } },
    { id: "chart-participation", traces: [["Hand raises per attendee", "hand_raises_per_attendee", ACCENT],
      ["Video-on share", "video_on_share", SCHOOL, "y2"]],
      y: { title: { text: "hand raises" }, rangemode: "tozero" },
      y2: { overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1], dtick: 0.25, showgrid: false } }
  ];

  function weeklyTraces(chart, classId) {
    var traces = chart.traces.map(function (t) {
      return line("School: " + t[0], school.week_start, school[t[1]], t[2], t[3] ? { yaxis: t[3] } : {});
    });
    var series = classSeries(classId);
    if (series) {
      chart.traces.forEach(function (t) {
        traces.push(line(classNames[classId] + ": " + t[0], series.week_start, series[t[1]], CLASS,
          { yaxis: t[3] || "y", line: { color: CLASS, width: 2, dash: t[2] === STAFF ? "dot" : "solid" } }));
      });
    }
    return traces;
  }

  function drawWeekly(classId) {
    weekly.forEach(function (chart) {
      if (!hasWeeks) return empty(chart.id, "No sessions held yet.");
      var extra = { yaxis: chart.y };
      if (chart.y2) { extra.yaxis2 = chart.y2; extra.margin = { r: 52 }; }
      Plotly.react(chart.id, weeklyTraces(chart, classId), layout(extra), config);
    });
  }

  function drawClasses(classId) {
    var classes = data.classes;
    if (!(classes.class_id || []).length) return empty("chart-classes", "No sessions held yet.");
    var traces = [{
      type: "scatter", mode: "markers", name: "Classes", x: classes.avg_attendance_rate,
      y: classes.avg_talk_minutes_per_attendee, text: classes.class_name,
      customdata: classes.sessions_held,
      hovertemplate: "%{text}<br>attendance %{x:.1%}<br>%{y:.1f} talk min per attendee<br>%{customdata} sessions held<extra></extra>",
      marker: { color: ACCENT, size: 8, opacity: 0.7 }
    }];
    var i = classes.class_id.indexOf(classId);
    if (i >= 0) {
      traces.push({ type: "scatter", mode: "markers", name: classes.class_name[i], x: [classes.avg_attendance_rate[i]],
        y: [classes.avg_talk_minutes_per_attendee[i]], hoverinfo: "skip", marker: { color: CLASS, size: 14, symbol: "diamond" } });
    }
    Plotly.react("chart-classes", traces, layout({
      hovermode: "closest", xaxis: { title: { text: "attendance rate" }, tickformat: ".0%" },
      yaxis: { title: { text: "talk minutes per attendee" }, rangemode: "tozero" }
    }), config);
  }

  function drawInstructors() {
    var people = data.instructors;
    if (!(people.instructor_id || []).length) return empty("chart-instructors", "No sessions taught yet.");
    var top = Math.min(25, people.instructor_id.length);
    var names = people.instructor_name.slice(0, top).reverse();
    Plotly.newPlot("chart-instructors", [{
      type: "bar", orientation: "h", name: "Sessions taught", y: names,
      x: people.sessions_taught.slice(0, top).reverse(),
      customdata: people.on_time_share.slice(0, top).reverse().map(function (s, k) {
        return [s, people.student_attendance_rate.slice(0, top).reverse()[k]];
      }),
      hovertemplate: "%{y}<br>%{x} sessions taught<br>on time %{customdata[0]:.0%}<br>student attendance %{customdata[1]:.0%}<extra></extra>",
      marker: { color: people.on_time_share.slice(0, top).reverse(), colorscale: [[0, "#d7e6fb"], [1, ACCENT]], cmin: 0, cmax: 1,
        colorbar: { title: { text: "on time", side: "right" }, tickformat: ".0%", thickness: 10 } }
    }], layout({ hovermode: "closest", margin: { l: 140 }, yaxis: { automargin: true } }), config);
  }

  function filterTable(classId) {
    var rows = document.querySelectorAll("#chronic-absence tbody tr");
    for (var k = 0; k < rows.length; k++) {
      rows[k].className = classId && rows[k].getAttribute("data-class-id") !== classId ? "hidden" : "";
    }
  }

  drawWeekly("");
  drawClasses("");
  drawInstructors();
  document.getElementById("class-filter").addEventListener("change", function (event) {
    drawWeekly(event.target.value);
    drawClasses(event.target.value);
    filterTable(event.target.value);
  });
})();
