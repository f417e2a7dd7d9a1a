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
 * Refreshes the overview from its JSON every 15 s and when the operator comes back to the tab (a phone suspends
 * timers in the background): every figure, and each destination redrawn whole (its reason and pause go with its
 * state). One request at a time, given up after 10 s (a stalled link must not pile them up); an answer that is not
 * the JSON (an expired session is sent to the log-in page) says so instead of leaving old figures looking current.
 * With scripts off the page is the same, reloaded by hand. Text only, never markup, goes into the page.
 */
export const OVERVIEW_JS = `(function(){
var root=document.getElementById('overview');if(!root||!window.fetch)return;
var busy=false,last=root.getAttribute('data-generated');
function text(name){return root.getAttribute('data-text-'+name)||'';}
function field(name){return root.querySelector('[data-field="'+name+'"]');}
function set(name,value){var el=field(name);if(el)el.textContent=value;}
function utc(iso){return iso?iso.replace('T',' ').slice(0,19)+' UTC':text('none');}
function age(s){if(s===null)return '\u2013';if(s<120)return Math.round(s)+' s';if(s<7200)return Math.round(s/60)+' min';return Math.round(s/3600)+' h';}
function node(tag,cls,value){var el=document.createElement(tag);if(cls)el.className=cls;if(value!==undefined)el.textContent=value;return el;}
function destination(d){var li=root.querySelector('[data-destination="'+d.destination+'"]');if(!li)return;
while(li.firstChild)li.removeChild(li.firstChild);
var state=node('span','state-'+d.state,text('state-'+d.state)||d.state);state.setAttribute('data-field','destination.'+d.destination);
li.appendChild(node('b','',d.destination));li.appendChild(document.createTextNode(': '));li.appendChild(state);
if(d.state==='paused'&&d.resumesAt){var left=Math.max(0,Math.ceil((Date.parse(d.resumesAt)-Date.now())/60000));li.appendChild(document.createTextNode(' \u00b7 '+text('resumes-in').replace('{minutes}',left)));}
if(d.reason){li.appendChild(node('br'));li.appendChild(node('span','muted',d.reason));}}
function show(o){last=o.generatedAt;field('stale').hidden=true;
set('messagesReceived',o.messagesReceived);set('casesCreated',o.casesCreated);set('deadLetters',o.deadLetters.count);
set('oldestDeadLetter',utc(o.deadLetters.oldestFailedAt));set('generatedAt',utc(o.generatedAt));
o.queues.forEach(function(q){['waiting','active','delayed','failed'].forEach(function(k){set('queue.'+q.queue+'.'+k,q[k]);});set('queue.'+q.queue+'.oldest',age(q.oldestAgeSeconds));});
o.destinations.forEach(destination);}
function stale(){var el=field('stale');el.textContent=text('not-updated').replace('{time}',utc(last));el.hidden=false;}
function refresh(){if(busy)return;busy=true;
var abort=window.AbortController?new AbortController():null;var timer=setTimeout(function(){if(abort)abort.abort();},10000);
fetch(root.getAttribute('data-source'),{credentials:'same-origin',headers:{Accept:'application/json'},signal:abort?abort.signal:undefined})
.then(function(r){if(!r.ok||!/json/.test(r.headers.get('content-type')||''))throw new Error('not the overview');return r.json();})
.then(show).catch(stale).then(function(){clearTimeout(timer);busy=false;});}
setInterval(refresh,15000);
document.addEventListener('visibilitychange',function(){if(document.visibilityState==='visible')refresh();});})();
`;
