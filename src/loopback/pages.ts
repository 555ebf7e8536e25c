/** The small pages the browser shows at the end of a login. No scripts, no external resources. */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, heading: string, paragraphs: string[], colour: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem;color:${colour}}p{line-height:1.5}</style></head>
<body><h1>${escapeHtml(heading)}</h1>${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('')}</body></html>
`;
}

export function successPage(): string {
  return page('authbridge: signed in', 'Signed in', ['authbridge has your tokens. You can close this tab and return to the terminal.'], '#1a7f37');
}

/** What to do after a failed sign-in, unless the failure says better. */
export const FAILURE_NEXT_STEP = 'What next: the terminal shows the same error and what to do about it. Fix that, then run `authbridge login` again; nothing was saved.';

/** The failure page: what went wrong, then what to do next (`next`, else {@link FAILURE_NEXT_STEP}). */
export function failurePage(message: string, next = FAILURE_NEXT_STEP): string {
  return page('authbridge: sign-in failed', 'Sign-in failed', [message, next], '#cf222e');
}
