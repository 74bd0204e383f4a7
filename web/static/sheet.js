// The print view's Print button (no inline script: the CSP allows scripts from 'self' only).
document.getElementById("print-sheet")?.addEventListener("click", () => window.print());
