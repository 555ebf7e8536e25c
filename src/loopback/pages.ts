/** The small pages the browser shows at the end of a login. No scripts, no external resources. */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, heading: string, body: string, colour: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem;color:${colour}}p{line-height:1.5}</style></head>
<body><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(body)}</p></body></html>
`;
}

export function successPage(): string {
  return page('authbridge: signed in', 'Signed in', 'authbridge has your tokens. You can close this tab and return to the terminal.', '#1a7f37');
}

export function failurePage(message: string): string {
  return page('authbridge: sign-in failed', 'Sign-in failed', message, '#cf222e');
}
