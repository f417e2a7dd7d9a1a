// Service worker for caseworker alerts. A push says that something happened and links to Primero;
// it never carries a child's details, so there is nothing here to protect but the link.
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {};
  }
  event.waitUntil(
    self.registration.showNotification(data.title || 'Primero', {
      body: data.body || '',
      tag: data.tag,
      renotify: Boolean(data.tag),
      data: { url: data.url },
      actions: data.action ? [{ action: 'open', title: data.action }] : [],
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});
