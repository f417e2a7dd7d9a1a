import type { Router } from 'express';
import QRCode from 'qrcode';
import { DEVICE_ID, USER_NAME, type DeviceAdmin } from '../admin/devices';
import { issueEnrollment, type EnrollmentSettings } from '../admin/enrollments';
import type { DeviceView } from '../store/push-subscriptions';
import type { AuditLog } from '../store/audit';
import { HttpError } from '../http/errors';
import { formOf, pageContext } from './context';
import { actionButton } from './dead-letter-forms';
import { html, trustedSvg, when, type SafeHtml } from './html';
import { csrfField, path, sendPage, type PageContext } from './layout';

export interface DevicePageDeps {
  /** Both null when web push is off. */
  devices: DeviceAdmin | null;
  enrollment: EnrollmentSettings | null;
  audit: AuditLog;
}

function userForm(ctx: PageContext, action: string, intro: string, button: string, id: string): SafeHtml {
  return html`<section><p>${intro}</p><form method="post" action="${path(action)}">${csrfField(ctx)}<label for="${id}">${ctx.t.user_name}</label>
<input id="${id}" name="user_name" required maxlength="100" autocomplete="off" autocapitalize="none"><button type="submit">${button}</button></form></section>`;
}

const forms = (ctx: PageContext) => html`${userForm(ctx, 'devices/list', ctx.t.nav_devices, ctx.t.list_devices, 'list-user')}<h2>${ctx.t.enroll_title}</h2>${userForm(ctx, 'devices/enroll', ctx.t.enroll_intro, ctx.t.issue_link, 'enroll-user')}`;

function deviceItem(ctx: PageContext, d: DeviceView): SafeHtml {
  const { t } = ctx;
  return html`<li class="card device" data-id="${d.id}"><b>${d.service}</b><br><span class="muted">${t.device_language}: ${d.language} · ${t.device_expires}: ${when(d.expires_at)}${d.expiring_soon ? html` · ${t.expiring_soon}` : ''}</span>
<div class="actions">${actionButton(ctx, path(`devices/${d.id}/revoke`), t.revoke, html``, true)}</div></li>`;
}

const userOf = (form: URLSearchParams): string => {
  const user = (form.get('user_name') ?? '').trim();
  if (!USER_NAME.test(user)) throw new HttpError(422, 'invalid_user_name', 'Give the Primero user name (letters, digits and . _ @ -, at most 100).');
  return user;
};

/** A caseworker's devices (listed, revoked) and enrollment links shown as a QR code: DeviceAdmin and issueEnrollment, as the JSON routes. */
export function deviceRoutes(router: Router, deps: DevicePageDeps): void {
  const on = (ctx: PageContext) => {
    if (!deps.devices || !deps.enrollment) throw new HttpError(404, 'push_disabled', ctx.t.push_disabled);
    return { devices: deps.devices, enrollment: deps.enrollment };
  };
  router.get(path('devices'), (req, res) => {
    const ctx = pageContext(res);
    if (!deps.devices) return sendPage(res, ctx, ctx.t.nav_devices, html`<p class="notice" id="push-disabled">${ctx.t.push_disabled}</p>`, { current: 'devices' });
    const done = req.query.done === 'revoked' ? html`<p class="notice" role="status">${ctx.t.revoked_notice}</p>` : '';
    sendPage(res, ctx, ctx.t.nav_devices, html`${done}${forms(ctx)}`, { current: 'devices' });
  });
  router.post(path('devices/list'), async (_req, res) => {
    const ctx = pageContext(res);
    const user = userOf(formOf(res));
    const listed = await on(ctx).devices.list(user, ctx.actor);
    const items = listed.length === 0 ? html`<p>${ctx.t.devices_none}</p>` : html`<ul class="items" id="devices">${listed.map((d) => deviceItem(ctx, d))}</ul>`;
    sendPage(res, ctx, ctx.t.nav_devices, html`<section><h2>${user}</h2>${items}</section>${forms(ctx)}`, { current: 'devices' });
  });
  router.post(path('devices/enroll'), async (_req, res) => {
    const ctx = pageContext(res);
    const user = userOf(formOf(res));
    const issued = await issueEnrollment(on(ctx).enrollment, deps.audit, user, ctx.actor);
    // Without PUBLIC_URL the link is relative: a QR code of it would open nothing on the caseworker's phone.
    const qr = on(ctx).enrollment.publicUrl
      ? html`<p>${ctx.t.enroll_link_intro}</p><div class="qr" id="enrollment-qr">${trustedSvg(await QRCode.toString(issued.url, { type: 'svg', margin: 2 }))}</div>`
      : html`<p class="problem" id="no-public-url">${ctx.t.enroll_no_public_url}</p>`;
    sendPage(res, ctx, ctx.t.enroll_title, html`<section>${qr}<p><a id="enrollment-link" href="${issued.url}">${issued.url}</a></p><p class="muted">${ctx.t.enroll_expires}: ${when(issued.expires_at)}</p></section>`, { current: 'devices' });
  });
  router.post(path('devices/:id/revoke'), async (req, res) => {
    const ctx = pageContext(res);
    const id = req.params.id as string;
    if (!DEVICE_ID.test(id)) throw new HttpError(422, 'invalid_device_id', 'That is not a device id.');
    if (!(await on(ctx).devices.revoke(id, ctx.actor))) throw new HttpError(404, 'not_found', 'No device with this id (already revoked or expired?).');
    res.redirect(303, `${path('devices')}?done=revoked`);
  });
}
