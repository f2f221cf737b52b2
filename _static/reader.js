// condense-book: two mends to what the reader gets (tests/test_browser.py checks both).
document.addEventListener("DOMContentLoaded", function () {
  // 1. The phone menu. pydata-sphinx-theme binds its "open the sidebar" handler to the first
  //    .primary-toggle (.secondary-toggle) on the page, a header button sphinx-book-theme hides;
  //    the buttons a reader sees did nothing at 390 px. Each visible one now presses the bound one.
  [".primary-toggle", ".secondary-toggle"].forEach(function (selector) {
    var buttons = document.querySelectorAll(selector);
    var bound = buttons[0];
    Array.prototype.slice.call(buttons, 1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopImmediatePropagation();
        bound.click();
      }, true);
    });
  });

  // 2. Tables of four or more columns read as one card per row on a phone (custom.css,
  //    max-width 600px): each cell gets its column's name.
  document.querySelectorAll("article table").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head || head.cells.length < 4) return;
    var names = Array.prototype.map.call(head.cells, function (c) { return c.textContent.trim(); });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, i) {
          if (names[i]) cell.setAttribute("data-label", names[i]);
        });
      });
    });
    table.classList.add("stacked");
  });
});
