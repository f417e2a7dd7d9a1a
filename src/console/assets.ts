/**
 * The console's only stylesheet and script, served from its own routes so the pages' CSP can forbid every inline
 * one. Phone first: one column, nothing wider than the screen, tap targets at least 44 px.
 */
export const CONSOLE_CSS = `*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,sans-serif;color:#1b1b1b;background:#f4f5f7;overflow-wrap:anywhere}
header{background:#0b3d5c;color:#fff;padding:.5rem .75rem}
header strong{display:block;margin-bottom:.25rem}
nav{display:flex;flex-wrap:wrap;gap:.25rem}
nav a,nav button{color:#fff;background:#15557d;border:0;border-radius:4px;padding:.5rem .6rem;min-height:44px;margin:0;font:inherit;text-decoration:none;display:inline-flex;align-items:center}
nav a[aria-current]{background:#fff;color:#0b3d5c}
nav form{margin:0}
main{padding:.75rem;max-width:60rem;margin:0 auto}
h1{font-size:1.3rem;margin:.25rem 0 .75rem}
h2{font-size:1.1rem;margin:1rem 0 .5rem}
section,.card{background:#fff;border-radius:6px;padding:.75rem;margin:0 0 .75rem;box-shadow:0 1px 2px rgba(0,0,0,.1)}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem;margin:0 0 .75rem}
.figure{background:#fff;border-radius:6px;padding:.6rem;box-shadow:0 1px 2px rgba(0,0,0,.1)}
.figure b{display:block;font-size:1.6rem}
.figure b.when{font-size:.9rem;font-weight:600}
table{width:100%;border-collapse:collapse;table-layout:fixed;font-size:.85rem}
th{font-size:.68rem}
th,td{text-align:left;padding:.3rem .2rem;border-bottom:1px solid #ddd;vertical-align:top}
th:first-child,td:first-child{width:28%}
ul.items{list-style:none;margin:0;padding:0}
label{display:block;margin:.4rem 0 .2rem;font-weight:600}
input,select,textarea{width:100%;font:inherit;padding:.5rem;border:1px solid #888;border-radius:4px;min-height:44px}
button,.button{font:inherit;min-height:44px;padding:.5rem .9rem;border-radius:4px;border:0;background:#0b6fa4;color:#fff;margin:.5rem .25rem 0 0;text-decoration:none;display:inline-block}
button.danger{background:#a4260b}
.actions{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.25rem}
.actions form{margin:0}
.state-healthy{color:#17692f}.state-retrying{color:#8a5a00}.state-paused{color:#a4260b}
.notice{background:#e5f4e8;border-left:4px solid #17692f;padding:.5rem}
.problem{background:#fbe9e5;border-left:4px solid #a4260b;padding:.5rem}
.muted{color:#555;font-size:.85rem}
pre{white-space:pre-wrap;background:#f0f0f0;padding:.5rem;font-size:.8rem}
.qr svg{width:100%;max-width:16rem;height:auto;display:block}
`;

/**
 * Refreshes the overview's figures from its JSON every 15 s and when the operator comes back to the tab (a phone
 * suspends timers in the background); with scripts off the page is the same, reloaded by hand.
 */
export const OVERVIEW_JS = `(function(){
var root=document.getElementById('overview');if(!root||!window.fetch)return;
function set(name,value){var el=document.querySelector('[data-field="'+name+'"]');if(el)el.textContent=value;}
function refresh(){fetch(root.getAttribute('data-source'),{credentials:'same-origin',headers:{Accept:'application/json'}})
.then(function(r){return r.ok?r.json():null}).then(function(o){if(!o)return;
set('messagesReceived',o.messagesReceived);set('casesCreated',o.casesCreated);set('deadLetters',o.deadLetters.count);
set('generatedAt',o.generatedAt.replace('T',' ').slice(0,19)+' UTC');
o.queues.forEach(function(q){['waiting','active','delayed','failed'].forEach(function(k){set('queue.'+q.queue+'.'+k,q[k]);});});
o.destinations.forEach(function(d){var el=document.querySelector('[data-field="destination.'+d.destination+'"]');
if(el){el.textContent=root.getAttribute('data-state-'+d.state)||d.state;el.className='state-'+d.state;}});
}).catch(function(){});}
setInterval(refresh,15000);
document.addEventListener('visibilitychange',function(){if(document.visibilityState==='visible')refresh();});})();
`;
