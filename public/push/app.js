// Enrollment page logic: register the service worker, subscribe with the gateway's VAPID key, and hand
// the subscription to the gateway together with the one-time enrollment token from the link.
(function () {
  const t = JSON.parse(document.getElementById('strings').textContent);
  const token = new URLSearchParams(location.search).get('token');
  const status = document.getElementById('status');
  const show = (key) => {
    status.textContent = t[key];
    status.dataset.state = key;
  };
  const toKey = (b64) => {
    const pad = '='.repeat((4 - (b64.length % 4)) % 4);
    const raw = atob((b64 + pad).replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };

  document.getElementById('enable').addEventListener('click', async () => {
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) return show('unsupported');
    try {
      const reg = await navigator.serviceWorker.register('/push/sw.js', { scope: '/push' });
      await navigator.serviceWorker.ready;
      if ((await Notification.requestPermission()) !== 'granted') return show('failed');
      const { key } = await (await fetch('/push/vapid-public-key')).json();
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: toKey(key) });
      const res = await fetch('/push/subscriptions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ enrollment_token: token, subscription: sub.toJSON ? sub.toJSON() : sub, language: t.language }),
      });
      show(res.ok ? 'enabled' : 'failed');
    } catch {
      show('failed');
    }
  });

  document.getElementById('disable').addEventListener('click', async () => {
    try {
      const reg = await navigator.serviceWorker.getRegistration('/push');
      const sub = reg && (await reg.pushManager.getSubscription());
      if (sub) {
        const json = sub.toJSON ? sub.toJSON() : sub;
        await fetch('/push/subscriptions', { method: 'DELETE', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ endpoint: json.endpoint, keys: { auth: json.keys.auth } }) });
        if (sub.unsubscribe) await sub.unsubscribe();
      }
      show('disabled');
    } catch {
      show('failed');
    }
  });
})();
