/**
 * Chit-chat beyond the fixed one-liners of CHIT_CHAT: what a live room talks
 * about when nobody is shopping (the day, songs, the leaderboard, virtual
 * gifts, PK), including everyday uses of the words that do carry intents
 * elsewhere (什么时候下班, 多少票, 4号生日, 能再唱一遍吗, 黑粉, 换个话题), and
 * some character strings that read as nothing at all.
 *
 * Why: a model that saw only a closed list of chit-chat learns that any text
 * it has not seen is a question. On 300 hand-labeled real live comments
 * (bench/data/livechat-douyin-labels.json) the model trained without this
 * tagged 23% of the comments that carry no tag.
 */
import { INTENTS, type Category } from './generator-intents.ts';
import { byPosition, chance, intBetween, pickOne, type Rng } from './generator-picks.ts';
import { fill } from './generator-slots.ts';
import { COLORS, ITEMS, NOISE_RULES, SHADES, SIZES } from './generator-vocab.ts';

const SUBJECTS = ['我', '你', '他', '她', '我们', '你们', '大哥', '兄弟', '我妈', '我朋友', '同事', '老铁', '对面', '我老公', '我闺蜜', '他们'];
const TIMES = ['今天', '明天', '昨天', '刚才', '一会', '晚上', '周末', '下午', '早上', '等会', '凌晨', '现在', '后天', '中午'];
const ACTIVITIES = [
  '上班', '下班', '吃饭', '睡觉', '打游戏', '唱歌', '跳舞', '加班', '考试', '上课', '出差', '旅游', '看电影', '追剧', '打麻将',
  '钓鱼', '跑步', '健身', '开车', '做饭', '洗澡', '写作业', '补觉', '补课', '补考', '打工', '上网课', '打pk', '连麦', '搬砖', '喝酒', '逛街', '遛狗', '带娃', '学习',
  '读书', '搬家', '刷视频', '打篮球', '爬山', '练琴', '画画', '吃火锅', '撸串', '排队', '坐车', '回家', '熬夜',
];
const FEELINGS = ['开心', '难过', '累', '困', '无聊', '崩溃', '感动', '紧张', '激动', '尴尬', '害怕', '羡慕', '心疼', '舒服', '饿', '热', '冷', '烦'];
const TRAITS = ['逗', '厉害', '能聊', '搞笑', '有意思', '认真', '勇敢', '真实', '靠谱', '可怜', '淡定', '稳'];
const NAME_HEADS = ['小', '阿', '老', '大'];
const NAME_CHARS = '龙凤花雪月星晨阳明丽静婷芳军伟磊杰涛超鹏飞宇浩然欣悦琪瑶佳豪峰波俊萌萌宝贝乐乐朵朵天天球球糖果兔虎猫';
const NAME_TAILS = ['哥', '姐', '妹', '总', '叔', '爷', '宝'];
const V_GIFTS = ['小心心', '人气票', '灯牌', '火箭', '飞机', '跑车', '玫瑰', '墨镜', '抖币', '粉丝团', '鲜花', '大啤酒', '棒棒糖'];
const SONGS = ['小幸运', '晴天', '后来', '起风了', '稻香', '夜曲', '平凡之路', '光年之外', '孤勇者', '成都', '童话', '海阔天空', '突然好想你', '漠河舞厅', '青花瓷', '大鱼'];
const SINGERS = ['周杰伦', '林俊杰', '邓紫棋', '陈奕迅', '王菲', '薛之谦', '毛不易', '李荣浩', '五月天', '刀郎'];
const EVENTS = ['生日', '放假', '开学', '上班', '考试', '结婚', '搬家', '发工资', '出发', '回来'];
const THINGS = ['电', '网', '信号', '人', '声音', '画面', '作业', '工作', '钱', '时间', '耐心', '假期'];
const NON_PRICE_UNITS = ['分', '票', '人', '集', '度', '级', '关', '遍', '层', '公里', '粉丝', '个赞'];
const STREAM_ACTS = ['再唱一遍', '换首歌', '换个话题', '开摄像头', '大点声', '唱慢一点', '跳个舞', '讲个笑话', '连个麦', '打个pk', '点个歌', '笑一个'];
/** Everyday words that share a character with an intent word (黑粉 and 黑色, 发呆 and 发货, 大哥 and 大码) without its meaning. */
const LOOKALIKES = [
  '黑粉', '白天', '红了', '小红书', '绿茶', '大哥', '大佬', '小号', '大号', '发呆', '发疯', '发烧', '发现', '接电话', '退出',
  '换号', '送你一首歌', '链子', '价值观', '质疑', '色彩', '尺度', '用心', '新号', '老号', '送分题', '退群', '包容', '红人',
  '白眼', '黑历史', '大红人', '小白', '粉丝', '发财', '接力', '退休', '换班', '送别', '不用', '不用了', '不用谢', '没用', '有用',
  '用不着', '做什么呢', '干什么', '在做什么', '什么情况', '什么意思', '什么鬼', '怎么回事', '怎么办', '还有人吗', '还有一次机会',
  '多大点事', '大可不必', '有点东西', '质朴', '链家', '退一步海阔天空', '换个姿势', '送命题', '起码', '号码', '密码', '码头',
  '健康码', '占便宜', '块头', '便宜你了',
]
/** English and pinyin shorthand people type in Chinese rooms; 'it's' and 'so' hold the letters of S, M and L sizes. */
const LATIN = [
  'hello', 'hi', 'lol', 'omg', 'nice', 'good night', 'i love you', 'haha', 'bye', 'wow', 'come on', 'yes', 'no', 'sorry', 'thank you',
  'so boring', "it's so cool", "let's go", 'happy', 'cool', 'awsl', 'xswl', 'nb', 'hhh', 'kkk', 'bb', 'what', 'oh my god', 'so sad',
  'miss you', 'me too', 'good morning', 'why', 'amazing', 'so cute', 'emo了', 'yyds', 'cpu了', 'nsdd', 'u1s1', 'dbq',
];

const name = (rng: Rng): string => {
  const c = (): string => NAME_CHARS[Math.floor(rng() * NAME_CHARS.length)];
  const r = rng();
  return r < 0.4 ? pickOne(rng, NAME_HEADS) + c() : r < 0.75 ? c() + pickOne(rng, NAME_TAILS) : c() + c();
};

type Part = (rng: Rng) => string;
const slots: Record<string, Part> = {
  subj: (r) => pickOne(r, SUBJECTS),
  time: (r) => pickOne(r, TIMES),
  act: (r) => pickOne(r, ACTIVITIES),
  feel: (r) => pickOne(r, FEELINGS),
  trait: (r) => pickOne(r, TRAITS),
  name,
  vgift: (r) => pickOne(r, V_GIFTS),
  song: (r) => pickOne(r, SONGS),
  singer: (r) => pickOne(r, SINGERS),
  event: (r) => pickOne(r, EVENTS),
  thing: (r) => pickOne(r, THINGS),
  unit: (r) => pickOne(r, NON_PRICE_UNITS),
  sact: (r) => pickOne(r, STREAM_ACTS),
  look: (r) => pickOne(r, LOOKALIKES),
  latin: (r) => pickOne(r, LATIN),
  num: (r) => String(intBetween(r, 1, 30)),
};

/** Ordered most common first, as the other lists; `fill` then handles {n} and {city}. */
const PATTERNS = byPosition([
  '{subj}在{act}', '{time}{subj}要{act}', '{act}去了', '刚{act}完', '感谢{name}', '欢迎{name}', '{name}来了', '{subj}也{feel}',
  '送{num}个{vgift}', '唱一首{song}', '什么时候{act}', '{subj}不想{act}', '{time}{act}', '{act}好{feel}', '{name}好{trait}',
  '谢谢{name}的{vgift}', '多少{unit}', '{num}号{event}', '还有{num}分钟', '{thing}没了', '能不能{sact}', '可以{sact}吗',
  '{subj}{act}了吗', '还在{act}吗', '一边{act}一边听', '点一首{song}', '想听{singer}的歌', '{song}好听', '{name}呢',
  '{name}怎么不说话', '榜{num}是谁', '打了{num}万票', '多少{unit}了', '还差{num}{unit}', '{look}', '{subj}是{look}',
  '{time}{event}', '{subj}{time}{event}', '{act}多久了', '{subj}{act}{num}年了', '{name}又去{act}了', '{look}啊', '哈哈{look}',
  '{name}{feel}了', '和{name}连麦', 'pk赢了', 'pk输了', '还要打pk吗', '{vgift}送上', '{subj}{feel}死了', '{thing}怎么没了',
  '{time}几点{act}', '{subj}去{city}{act}', '{city}{act}', '换个{thing}吧', '{subj}的{thing}呢', '{num}点{act}', '{subj}爱{act}',
  '{latin}', '{latin}', '{latin}哈哈', '{name} {latin}', '{subj}在做什么', '{time}不用{act}', '{act}有用吗', '{subj}是{num}岁吗',
], 0.3);

/**
 * Characters strings are drawn from: common characters in the order of their
 * frequency in running text. A string keeps none of the generator's intent
 * wordings (the caller rejects those), so it is nothing a seller answers.
 */
const COMMON = '的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小二无同么经法当起与好看学进种将还分此心前面又定见只主没公从知己老样向外意工些想长把道回很最今因头手开并动现真门此明海相全高理物平加正水现走理边西问力比电路打声话听写吃喝玩睡哭笑跑跳飞坐站爱乐快慢早晚春夏秋冬风雨云雪山河花草树鸟鱼猫狗马牛羊鸡' +
  '雅赏融腰芭叶熊猪虫龟狼鹅鸭兔鼠龙凤蛇象肉蛋饭面菜汤茶酒糖饼粥瓜果桃梨橙葡萄米豆油醋盐椒姜葱蒜锅碗筷杯盘桌椅床灯窗墙楼房屋院街' +
  '城村镇省乡岛湖江海岸桥塔寺庙宫殿阁亭园林森峰谷洞泉溪泥沙石土金银铜铁钢玉珠宝剑刀枪箭弓盾旗鼓琴笛歌舞戏剧诗词书画棋牌球赛' +
  '梦醒忆念思恋盼愿祝福喜怒哀惊怕愁恨悔羞傲懒勤聪笨帅丑胖瘦矮壮弱病医药针疼痛累困饿渴冷热暖凉湿干净脏乱静闹忙闲穷富贱' +
  '爸妈爷奶哥弟姐妹叔姨舅婆孙儿女夫妻朋友邻居同学师徒兵警官民工农商医护士厨司机老板领导总统皇帝王后妃侠客鬼神仙佛魔妖怪' +
  '骂夸劝骗偷抢借还找丢捡拿放扔推拉抱亲吻握拍摸踢踩爬滚躲藏追赶逃等守陪送接迎留忘记懂猜信疑答应拒绝选择决定改变继续停止';

/** Every two characters in a row of an intent wording, a slot word or a typo the generator makes (多少, 链接, 发后, 黑色). */
const INTENT_PAIRS: ReadonlySet<string> = (() => {
  const words = [
    ...Object.values(INTENTS).flatMap((lists) => Object.values(lists).flat()),
    ...COLORS, ...SHADES, ...SIZES, ...Object.values(ITEMS).flat(),
    ...NOISE_RULES.flatMap(([from, to]) => [from, ...to]),
  ];
  const pairs = new Set<string>();
  for (const w of words) for (const run of w.split(/\{[^}]*\}/)) for (let i = 0; i + 1 < run.length; i++) pairs.add(run.slice(i, i + 2));
  return pairs;
})();
// The strings are drawn from COMMON, one UTF-16 unit per character, so slicing by index is by character.
function spellsIntent(s: string): boolean {
  for (let i = 0; i + 1 < s.length; i++) if (INTENT_PAIRS.has(s.slice(i, i + 2))) return true;
  return false;
}

/** Chit-chat from the open grammar, or (a third of the time) a short string of common characters that spells no intent wording. */
export function openChatText(category: Category, rng: Rng): string {
  if (chance(rng, 0.65)) return fill(PATTERNS(rng).replace(/\{([a-z]+)\}/g, (m, k: string) => slots[k]?.(rng) ?? m), category, rng);
  for (;;) {
    const n = intBetween(rng, 1, 9);
    let s = '';
    for (let i = 0; i < n; i++) s += COMMON[Math.floor(rng() * COMMON.length)];
    if (!spellsIntent(s)) return s;
  }
}
