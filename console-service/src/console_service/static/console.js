// Every htmx request sends the page's CSRF token; an API error is shown in place instead of being dropped.
document.addEventListener("DOMContentLoaded", () => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  document.body.addEventListener("htmx:configRequest", (event) => { event.detail.headers["X-CSRFToken"] = token; });
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "286", swap: true },
    { code: "[23]..", swap: true },
    { code: "[45]..", swap: true, error: true },
  ];
});
